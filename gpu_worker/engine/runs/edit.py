"""The img2img and inpaint runs: one pass over the whole source, at its size (each side down
to a multiple of 8 for the pass, back to the source's size after)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PIL import Image

from ..masks import composite, prepare_mask
from ..spec import GenerationResult, GenerationSpec, StepCallback
from .edit_pass import EditPasses, to_size, work_size
from .steps import elapsed_ms

if TYPE_CHECKING:
    from ..prepared import Runner


def run_img2img(
    engine: Runner, spec: GenerationSpec, on_step: StepCallback | None = None
) -> GenerationResult:
    started = time.perf_counter()
    size = work_size(*spec.source.size)
    with engine.prepare(spec, kind="img2img", size=size) as job:
        passes = EditPasses(engine, job, on_step, passes=1)
        load_ms = elapsed_ms(started)
        started = time.perf_counter()
        source = job.spec.source.convert("RGB")
        painted = passes.denoise(source.resize(size, Image.Resampling.LANCZOS), job.spec.seeds)
        images = [to_size(image, source.size) for image in painted]
        return passes.result(images, {}, load_ms=load_ms, inference_ms=elapsed_ms(started))


def run_inpaint(
    engine: Runner, spec: GenerationSpec, on_step: StepCallback | None = None
) -> GenerationResult:
    started = time.perf_counter()
    size = work_size(*spec.source.size)
    with engine.prepare(spec, kind="inpaint", size=size) as job:
        spec = job.spec
        passes = EditPasses(engine, job, on_step, passes=1)
        load_ms = elapsed_ms(started)
        started = time.perf_counter()
        source = spec.source.convert("RGB")
        mask = prepare_mask(spec.mask, padding=spec.mask_padding, blur=spec.mask_blur)
        painted = passes.denoise(
            source.resize(size, Image.Resampling.LANCZOS),
            spec.seeds,
            mask=mask.resize(size, Image.Resampling.BILINEAR),
        )
        # The final composite: outside the (padded, blurred) mask every pixel is the source's.
        images = [composite(source, image, mask) for image in painted]
        return passes.result(
            images, {"composited": True}, load_ms=load_ms, inference_ms=elapsed_ms(started)
        )
