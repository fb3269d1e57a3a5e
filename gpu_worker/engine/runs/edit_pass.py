"""One img2img or inpaint pass on the warm pipeline, shared by the edit runs (img2img,
inpaint, upscale tiles, face repair), with the progress they report over all their passes
and the ``edit`` part of their manifests."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from PIL import Image

from .. import results
from ..manifest import image_sha256
from ..prepared import PreparedJob
from ..spec import GenerationResult, GenerationSpec, StepCallback, resolved_prompt
from .steps import seed_generators

if TYPE_CHECKING:
    from ..prepared import Runner

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
    """Each tile (or face) gets its own noise: the same noise everywhere repeats as a pattern."""
    return (seed * 1_000_003 + index) % _SEED_MODULUS


def to_size(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    return image if image.size == size else image.resize(size, Image.Resampling.LANCZOS)


def edit_record(spec: GenerationSpec) -> dict[str, Any]:
    """The manifest's ``edit`` part every edit mode shares."""
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


class EditPasses:
    """The passes of one edit job on ``job.pipeline`` (an img2img or inpaint view, with the
    job's LoRAs, IP-Adapter and controls), counting their steps for progress."""

    def __init__(self, engine: Runner, job: PreparedJob, on_step: StepCallback | None, passes):
        self.engine = engine
        self.job = job
        self.on_step = on_step
        _, steps_per_pass = steps_for_strength(job.spec.steps, job.spec.strength)
        self.total_steps = steps_per_pass * passes
        self.done_steps = 0

    def _step_callback(self):
        def callback(pipeline, step_index, timestep, callback_kwargs):
            self.done_steps += 1
            if self.on_step is not None:
                # Raising here aborts before the VAE decode; _interrupt alone would still decode.
                self.on_step(min(self.done_steps, self.total_steps), self.total_steps)
            return callback_kwargs

        return callback

    def denoise(
        self, image: Image.Image, seeds: tuple[int, ...], mask: Image.Image | None = None
    ) -> list[Image.Image]:
        """One pass over ``image`` (already a multiple of 8 a side); ``mask`` for inpaint."""
        spec = self.job.spec
        asked_steps, _ = steps_for_strength(spec.steps, spec.strength)
        inpaint = mask is not None

        def call_kwargs() -> dict[str, Any]:
            kwargs: dict[str, Any] = {
                "prompt": resolved_prompt(spec),
                "negative_prompt": spec.negative_prompt or None,
                "image": image,
                "strength": spec.strength,
                "num_inference_steps": asked_steps,
                "guidance_scale": spec.guidance_scale,
                "num_images_per_prompt": len(seeds),
                "generator": seed_generators(seeds),
                "callback_on_step_end": self._step_callback(),
            }
            if inpaint:
                kwargs.update(mask_image=mask, width=image.width, height=image.height)
            if spec.ip_adapter_images:
                kwargs["ip_adapter_image"] = [list(spec.ip_adapter_images)]
            controls = self.job.controls[0]
            if controls is not None:
                control_kwargs = dict(controls.call_kwargs)
                if "image" in control_kwargs:  # single-type ControlNets: "image" is the source
                    control_kwargs["control_image"] = control_kwargs.pop("image")
                kwargs.update(control_kwargs)
            return kwargs

        output = self.engine.denoise(
            self.job,
            call_kwargs,
            size=image.size,
            images=len(seeds),
            out_of_memory=(
                f"The GPU ran out of memory editing at {image.width}x{image.height}; "
                "try a smaller source, tile size or fewer images."
            ),
        )
        return list(output.images)

    def result(
        self,
        images: list[Image.Image],
        details: dict[str, Any],
        *,
        load_ms: int,
        inference_ms: int,
    ) -> GenerationResult:
        record = results.manifest(self.job, self.job.pipeline.scheduler)
        record["edit"] = {**edit_record(self.job.spec), **details, "steps_run": self.done_steps}
        return results.generation_result(
            self.job.spec,
            images,
            record,
            load_ms=load_ms,
            inference_ms=inference_ms,
            controls=self.job.controls[0],
        )
