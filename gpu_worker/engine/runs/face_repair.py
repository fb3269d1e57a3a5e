"""The face repair run: each face cropped as a square with context, enlarged to
``repair_size``, inpainted inside an ellipse around the face, shrunk back and pasted through
a feathered ellipse; outside the ellipses every pixel is the source's."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PIL import Image

from ..masks import composite, ellipse_mask, prepare_mask
from ..spec import Box, GenerationResult, GenerationSpec, StepCallback
from .edit_pass import EditPasses, tile_seed
from .steps import elapsed_ms

if TYPE_CHECKING:
    from ..prepared import Runner


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


def run_face_repair(
    engine: Runner, spec: GenerationSpec, on_step: StepCallback | None = None
) -> GenerationResult:
    started = time.perf_counter()
    size = (spec.repair_size, spec.repair_size)
    with engine.prepare(spec, kind="inpaint", size=size) as job:
        spec = job.spec
        passes = EditPasses(engine, job, on_step, passes=len(spec.face_boxes) * spec.num_images)
        load_ms = elapsed_ms(started)
        started = time.perf_counter()
        source = spec.source.convert("RGB")
        crops = [face_crop_box(face, source.size, spec.face_context) for face in spec.face_boxes]
        images = []
        for seed in spec.seeds:
            image = source.copy()
            for index, (face, crop) in enumerate(zip(spec.face_boxes, crops, strict=True)):
                image = _repair_one_face(passes, image, face, crop, tile_seed(seed, index))
            images.append(image)
        records = [
            {"face": list(face), "crop": list(crop)}
            for face, crop in zip(spec.face_boxes, crops, strict=True)
        ]
        details = {"faces": records, "repair_size": spec.repair_size}
        return passes.result(images, details, load_ms=load_ms, inference_ms=elapsed_ms(started))


def _repair_one_face(passes: EditPasses, image: Image.Image, face: Box, crop_box: Box, seed: int):
    size = passes.job.spec.repair_size
    crop = image.crop(crop_box)
    scale = size / crop.width
    enlarged = crop.resize((size, size), Image.Resampling.LANCZOS)
    left, top = crop_box[:2]
    face_in_crop = _scaled((face[0] - left, face[1] - top, face[2] - left, face[3] - top), scale)
    mask = ellipse_mask(enlarged.size, _grow(face_in_crop, 0.15))
    [painted] = passes.denoise(enlarged, (seed,), mask=mask)
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
