"""The editing modes of the engine: img2img, inpaint, upscale and face repair.

They run on the same warm SDXL pipeline as text-to-image: a job builds an img2img or inpaint
pipeline *view* around the loaded modules (``build_view``: no weights copied or reloaded), so
LoRAs, IP-Adapter and ControlNets work the same way. Every mode keeps the source's size (times
``scale`` for upscale); strength 0 returns the source unchanged (upscaled with Lanczos).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image

from .controlnet import build_view, prepare_controls
from .errors import InvalidSpec, OutOfMemory
from .manifest import image_sha256
from .masks import composite, ellipse_mask, prepare_mask
from .spec import Box, GenerationResult, GenerationSpec, ImageOutput, StepCallback, resolved_prompt
from .tiles import process_in_tiles, tile_boxes

if TYPE_CHECKING:
    from .generate import Engine

_SEED_MODULUS = 2**63


def work_size(width: int, height: int) -> tuple[int, int]:
    """The size the pipeline runs at: each side down to a multiple of 8 (SDXL's latent grid)."""
    return max(8, width - width % 8), max(8, height - height % 8)


def steps_for_strength(steps: int, strength: float) -> tuple[int, int]:
    """(steps to ask the scheduler for, steps that run): diffusers runs int(steps * strength)
    of them; at least one must run, so a low strength raises the schedule's length."""
    asked = max(steps, math.ceil(1 / strength)) if strength > 0 else steps
    return asked, min(int(asked * strength), asked)


def tile_seed(seed: int, index: int) -> int:
    """Each tile gets its own noise (the same noise in every tile would repeat as a pattern)."""
    return (seed * 1_000_003 + index) % _SEED_MODULUS


def face_crop_box(face: Box, image_size: tuple[int, int], context: float) -> Box:
    """A square around the face with ``context`` of its size added on each side, moved (and,
    if it must, shrunk) to lie inside the image."""
    x0, y0, x1, y1 = face
    width, height = image_size
    side = int(round(max(x1 - x0, y1 - y0) * (1 + 2 * context)))
    side = max(8, min(side, width, height))
    center_x, center_y = (x0 + x1) / 2, (y0 + y1) / 2
    left = int(round(min(max(center_x - side / 2, 0), width - side)))
    top = int(round(min(max(center_y - side / 2, 0), height - side)))
    return left, top, left + side, top + side


@dataclass
class _Run:
    """One prepared job: the warm model with this job's LoRAs, IP-Adapter and controls."""

    engine: Engine
    spec: GenerationSpec
    warm: Any
    loras: list
    ip_weights: Any
    controls: Any
    on_step: StepCallback | None
    total_steps: int
    done_steps: int = 0
    pipeline: Any = None

    def step_callback(self):
        def callback(pipeline, step_index, timestep, callback_kwargs):
            self.done_steps += 1
            if self.on_step is not None:
                # Raising here aborts before the VAE decode; _interrupt alone would still decode.
                self.on_step(min(self.done_steps, self.total_steps), self.total_steps)
            return callback_kwargs

        return callback

    def view(self, kind: str):
        from diffusers import (
            StableDiffusionXLControlNetImg2ImgPipeline,
            StableDiffusionXLControlNetInpaintPipeline,
            StableDiffusionXLControlNetUnionImg2ImgPipeline,
            StableDiffusionXLControlNetUnionInpaintPipeline,
            StableDiffusionXLImg2ImgPipeline,
            StableDiffusionXLInpaintPipeline,
        )

        if self.controls is None:
            plain = {"img2img": StableDiffusionXLImg2ImgPipeline}
            plain["inpaint"] = StableDiffusionXLInpaintPipeline
            return build_view(self.warm.pipeline, plain[kind])
        union = self.controls.pipeline_class.__name__.endswith("UnionPipeline")
        classes = {
            ("img2img", False): StableDiffusionXLControlNetImg2ImgPipeline,
            ("inpaint", False): StableDiffusionXLControlNetInpaintPipeline,
            ("img2img", True): StableDiffusionXLControlNetUnionImg2ImgPipeline,
            ("inpaint", True): StableDiffusionXLControlNetUnionInpaintPipeline,
        }
        return build_view(
            self.warm.pipeline, classes[(kind, union)], controlnet=self.controls.controlnet
        )

    def denoise(
        self,
        kind: str,
        image: Image.Image,
        seeds: tuple[int, ...],
        mask: Image.Image | None = None,
    ) -> list[Image.Image]:
        """One img2img or inpaint pass over ``image`` (already a multiple of 8 a side)."""
        spec = self.spec
        pipeline = self.view(kind)
        pipeline.scheduler = self.engine.scheduler_for(self.warm, spec)
        self.pipeline = pipeline
        asked_steps, _ = steps_for_strength(spec.steps, spec.strength)
        kwargs: dict[str, Any] = {
            "prompt": resolved_prompt(spec),
            "negative_prompt": spec.negative_prompt or None,
            "image": image,
            "strength": spec.strength,
            "width": image.width,
            "height": image.height,
            "num_inference_steps": asked_steps,
            "guidance_scale": spec.guidance_scale,
            "num_images_per_prompt": len(seeds),
            "generator": [torch.Generator(device="cpu").manual_seed(seed) for seed in seeds],
            "callback_on_step_end": self.step_callback(),
        }
        if kind == "img2img":
            kwargs.pop("width")
            kwargs.pop("height")
        if mask is not None:
            kwargs["mask_image"] = mask
        if spec.ip_adapter_images:
            kwargs["ip_adapter_image"] = [list(spec.ip_adapter_images)]
        if self.controls is not None:
            control_kwargs = dict(self.controls.call_kwargs)
            if "image" in control_kwargs:  # single-type ControlNets: "image" is the init image
                control_kwargs["control_image"] = control_kwargs.pop("image")
            kwargs.update(control_kwargs)
        try:
            return list(pipeline(**kwargs).images)
        except torch.cuda.OutOfMemoryError as exc:
            from .generate import _free_device_memory

            _free_device_memory()
            raise OutOfMemory(
                f"The GPU ran out of memory editing at {image.width}x{image.height}; "
                "try a smaller source, tile size or fewer images."
            ) from exc


def run_edit(engine: Engine, spec: GenerationSpec, on_step: StepCallback | None):
    """Run an editing mode (``spec.mode`` in EDIT_MODES), validated already."""
    if spec.strength == 0 or (spec.mode == "upscale" and spec.upscale_method == "lanczos"):
        return _without_diffusion(engine, spec, on_step)
    if spec.controls and spec.mode not in ("img2img", "inpaint"):
        raise InvalidSpec(f"ControlNet controls are used by img2img and inpaint, not {spec.mode}.")
    started = time.perf_counter()
    # The edit pipelines share the text pipeline's modules (and its LoRA/IP-Adapter state).
    warm, spec, loras, ip_weights = engine.prepare_attachments(spec)
    width, height = work_size(*spec.source.size)
    controls = (
        prepare_controls(spec.controls, engine.controlnets, width, height)
        if spec.controls
        else None
    )
    _, steps_per_pass = steps_for_strength(spec.steps, spec.strength)
    run = _Run(
        engine, spec, warm, loras, ip_weights, controls, on_step, steps_per_pass * _passes(spec)
    )
    load_ms = int((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    runner = {
        "img2img": _img2img,
        "inpaint": _inpaint,
        "upscale": _upscale,
        "face_repair": _face_repair,
    }[spec.mode]
    images, details = runner(run)
    inference_ms = int((time.perf_counter() - started) * 1000)

    manifest = engine.manifest(warm, run.pipeline, spec, loras, ip_weights, controls)
    manifest["edit"] = {**_edit_record(spec), **details, "steps_run": run.done_steps}
    outputs = [
        ImageOutput(image=image, seed=seed, manifest={**manifest, "seed": seed, "batch_index": i})
        for i, (image, seed) in enumerate(zip(images, spec.seeds, strict=True))
    ]
    conditioning = controls.images if controls else []
    return GenerationResult(
        images=outputs,
        load_ms=load_ms,
        inference_ms=inference_ms,
        extra={"conditioning_images": conditioning} if conditioning else {},
        conditioning_images=conditioning,
    )


def _passes(spec: GenerationSpec) -> int:
    """How many pipeline passes the job makes (for progress)."""
    if spec.mode == "upscale":
        boxes = tile_boxes(spec.width, spec.height, spec.tile_size, spec.tile_overlap)
        return len(boxes) * spec.num_images
    if spec.mode == "face_repair":
        return len(spec.face_boxes) * spec.num_images
    return 1


def _edit_record(spec: GenerationSpec) -> dict[str, Any]:
    record: dict[str, Any] = {
        "mode": spec.mode,
        "strength": spec.strength,
        "source_sha256": image_sha256(spec.source),
        "source_size": list(spec.source.size),
    }
    if spec.mode == "inpaint":
        record.update(
            mask_sha256=image_sha256(spec.mask),
            mask_blur=spec.mask_blur,
            mask_padding=spec.mask_padding,
        )
    if spec.mode == "upscale":
        record.update(scale=spec.scale, method=spec.upscale_method)
    return record


def _without_diffusion(engine: Engine, spec: GenerationSpec, on_step: StepCallback | None):
    """Strength 0 and the Lanczos upscale: no model runs, the source comes back (enlarged)."""
    started = time.perf_counter()
    image = spec.source.convert("RGB")
    if spec.mode == "upscale":
        image = image.resize((spec.width, spec.height), Image.Resampling.LANCZOS)
    if on_step is not None:
        on_step(1, 1)
    manifest = {
        "model": None,
        "params": {"width": spec.width, "height": spec.height, "seeds": list(spec.seeds)},
        "edit": {**_edit_record(spec), "steps_run": 0, "diffusion": False},
        "device": engine.profile.name,
    }
    outputs = [
        ImageOutput(image=image.copy(), seed=seed, manifest={**manifest, "seed": seed})
        for seed in spec.seeds
    ]
    return GenerationResult(
        images=outputs, load_ms=0, inference_ms=int((time.perf_counter() - started) * 1000)
    )


def _img2img(run: _Run):
    source = run.spec.source.convert("RGB")
    work = source.resize(work_size(*source.size), Image.Resampling.LANCZOS)
    images = run.denoise("img2img", work, run.spec.seeds)
    return [_to_size(image, source.size) for image in images], {}


def _inpaint(run: _Run):
    spec = run.spec
    source = spec.source.convert("RGB")
    mask = prepare_mask(spec.mask, padding=spec.mask_padding, blur=spec.mask_blur)
    size = work_size(*source.size)
    painted = run.denoise(
        "inpaint",
        source.resize(size, Image.Resampling.LANCZOS),
        spec.seeds,
        mask=mask.resize(size, Image.Resampling.BILINEAR),
    )
    # The final composite: outside the (padded, blurred) mask every pixel is the source's.
    return [composite(source, image, mask) for image in painted], {"composited": True}


def _upscale(run: _Run):
    spec = run.spec
    enlarged = spec.source.convert("RGB").resize(
        (spec.width, spec.height), Image.Resampling.LANCZOS
    )
    boxes = tile_boxes(spec.width, spec.height, spec.tile_size, spec.tile_overlap)

    def refine(seed: int):
        def tile(index: int, image: Image.Image) -> Image.Image:
            size = work_size(*image.size)
            [out] = run.denoise(
                "img2img", image.resize(size, Image.Resampling.LANCZOS), (tile_seed(seed, index),)
            )
            return _to_size(out, image.size)

        return tile

    images = [
        process_in_tiles(enlarged, refine(seed), tile=spec.tile_size, overlap=spec.tile_overlap)
        for seed in spec.seeds
    ]
    return images, {"tiles": len(boxes), "tile_size": spec.tile_size, "overlap": spec.tile_overlap}


def _face_repair(run: _Run):
    """Each face: a square crop with context, enlarged to ``repair_size``, inpainted inside an
    ellipse around the face, shrunk back and pasted through a feathered ellipse."""
    spec = run.spec
    source = spec.source.convert("RGB")
    crops = [face_crop_box(face, source.size, spec.face_context) for face in spec.face_boxes]
    images = []
    for seed in spec.seeds:
        image = source.copy()
        for index, (face, crop_box) in enumerate(zip(spec.face_boxes, crops, strict=True)):
            image = _repair_one_face(run, image, face, crop_box, tile_seed(seed, index))
        images.append(image)
    records = [
        {"face": list(face), "crop": list(crop)}
        for face, crop in zip(spec.face_boxes, crops, strict=True)
    ]
    return images, {"faces": records, "repair_size": spec.repair_size}


def _repair_one_face(run: _Run, image: Image.Image, face: Box, crop_box: Box, seed: int):
    size = run.spec.repair_size
    crop = image.crop(crop_box)
    scale = size / crop.width
    enlarged = crop.resize((size, size), Image.Resampling.LANCZOS)
    left, top = crop_box[:2]
    face_in_crop = _scaled((face[0] - left, face[1] - top, face[2] - left, face[3] - top), scale)
    mask = ellipse_mask(enlarged.size, _grow(face_in_crop, 0.15))
    [painted] = run.denoise("inpaint", enlarged, (seed,), mask=mask)
    painted = composite(enlarged, painted, prepare_mask(mask, padding=0, blur=max(1, size // 32)))
    back = painted.resize(crop.size, Image.Resampling.LANCZOS)
    # Paste back through a feathered ellipse: outside it the image is untouched.
    feather = prepare_mask(
        ellipse_mask(crop.size, _grow(_scaled(face_in_crop, 1 / scale), 0.15)),
        padding=0,
        blur=max(1, crop.width // 32),
    )
    repaired = image.copy()
    repaired.paste(back, (left, top), feather)
    return repaired


def _grow(box, fraction: float):
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * fraction, (y1 - y0) * fraction
    return (x0 - dx, y0 - dy, x1 + dx, y1 + dy)


def _scaled(box, factor: float):
    return tuple(value * factor for value in box)


def _to_size(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    return image if image.size == size else image.resize(size, Image.Resampling.LANCZOS)
