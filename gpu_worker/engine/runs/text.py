"""The text run: prompt (and LoRAs, reference images, controls) to images. Character jobs are
text runs with the character's LoRA and reference images."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .. import results
from ..preview import PreviewCallback
from ..spec import GenerationResult, GenerationSpec, StepCallback, resolved_prompt
from .steps import elapsed_ms, initial_latents, seed_generators, step_callback

if TYPE_CHECKING:
    from ..prepared import Runner


def run_text(
    engine: Runner,
    spec: GenerationSpec,
    on_step: StepCallback | None = None,
    on_preview: PreviewCallback | None = None,
    preview_every: int = 0,
) -> GenerationResult:
    started = time.perf_counter()
    with engine.prepare(spec) as job:
        spec, pipeline = job.spec, job.pipeline
        load_ms = elapsed_ms(started)

        def call_kwargs() -> dict[str, Any]:
            generators = seed_generators(spec.seeds)
            kwargs: dict[str, Any] = {
                "prompt": resolved_prompt(spec),
                "negative_prompt": spec.negative_prompt or None,
                "width": spec.width,
                "height": spec.height,
                "num_inference_steps": spec.steps,
                "guidance_scale": spec.guidance_scale,
                "num_images_per_prompt": spec.num_images,
                "generator": generators,
                "latents": initial_latents(
                    pipeline, spec, generators, engine.profile.device, engine.profile.dtype
                ),
                "callback_on_step_end": step_callback(
                    on_step, spec.steps, on_preview, preview_every
                ),
            }
            if spec.ip_adapter_images:
                # One adapter, several reference images: its image tokens are concatenated.
                kwargs["ip_adapter_image"] = [list(spec.ip_adapter_images)]
            if job.controls[0] is not None:
                kwargs.update(job.controls[0].call_kwargs)
            return kwargs

        started = time.perf_counter()
        output = engine.denoise(
            job,
            call_kwargs,
            size=(spec.width, spec.height),
            images=spec.num_images,
            out_of_memory=(
                f"The GPU ran out of memory at {spec.width}x{spec.height} with "
                f"{spec.num_images} images; try fewer images or a smaller size."
            ),
        )
        return results.generation_result(
            spec,
            list(output.images),
            results.manifest(job, pipeline.scheduler),
            load_ms=load_ms,
            inference_ms=elapsed_ms(started),
            controls=job.controls[0],
        )
