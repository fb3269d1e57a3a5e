"""The tiled upscale run: the source enlarged with Lanczos, then each overlapping tile
refined by an img2img pass with its own noise, and the tiles blended (``tiles``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PIL import Image

from ..spec import GenerationResult, GenerationSpec, StepCallback
from ..tiles import process_in_tiles, tile_boxes
from .edit_pass import EditPasses, tile_seed, to_size, work_size
from .steps import elapsed_ms

if TYPE_CHECKING:
    from ..prepared import Runner


def run_upscale(
    engine: Runner, spec: GenerationSpec, on_step: StepCallback | None = None
) -> GenerationResult:
    started = time.perf_counter()
    boxes = tile_boxes(spec.width, spec.height, spec.tile_size, spec.tile_overlap)
    with engine.prepare(spec, kind="img2img") as job:
        spec = job.spec
        passes = EditPasses(engine, job, on_step, passes=len(boxes) * spec.num_images)
        load_ms = elapsed_ms(started)
        started = time.perf_counter()
        enlarged = spec.source.convert("RGB").resize(
            (spec.width, spec.height), Image.Resampling.LANCZOS
        )

        def refine(seed: int):
            def tile(index: int, image: Image.Image) -> Image.Image:
                size = work_size(*image.size)
                [out] = passes.denoise(
                    image.resize(size, Image.Resampling.LANCZOS), (tile_seed(seed, index),)
                )
                return to_size(out, image.size)

            return tile

        images = [
            process_in_tiles(enlarged, refine(seed), tile=spec.tile_size, overlap=spec.tile_overlap)
            for seed in spec.seeds
        ]
        details = {"tiles": len(boxes), "tile_size": spec.tile_size, "overlap": spec.tile_overlap}
        return passes.result(images, details, load_ms=load_ms, inference_ms=elapsed_ms(started))
