"""Text-to-image generation on a warm SDXL pipeline."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from .devices import DeviceProfile, select_device
from .errors import GenerationCancelled, OutOfMemory
from .loading import PipelineCache, is_local_source
from .manifest import library_versions, scheduler_record, weights_digests
from .schedulers import build_scheduler
from .spec import GenerationResult, GenerationSpec, ImageOutput, StepCallback


class Engine:
    """Owns the warm pipelines of one worker process; one ``generate`` call per job."""

    def __init__(self, profile: DeviceProfile | None = None):
        self.profile = profile or select_device()
        self.pipelines = PipelineCache(self.profile)
        self._default_schedulers: dict[str, dict] = {}

    def warm(self, model: str) -> int:
        """Load ``model`` now (if needed) and return the load time in ms."""
        _, load_ms = self.pipelines.get(model)
        return load_ms

    def generate(self, spec: GenerationSpec, on_step: StepCallback | None = None):
        pipeline, load_ms = self.pipelines.get(spec.model)
        self._apply_scheduler(pipeline, spec)
        generators = [torch.Generator(device="cpu").manual_seed(seed) for seed in spec.seeds]
        started = time.perf_counter()
        try:
            output = pipeline(
                prompt=spec.prompt,
                negative_prompt=spec.negative_prompt or None,
                width=spec.width,
                height=spec.height,
                num_inference_steps=spec.steps,
                guidance_scale=spec.guidance_scale,
                num_images_per_prompt=spec.num_images,
                generator=generators,
                callback_on_step_end=_step_callback(on_step, spec.steps),
            )
        except torch.cuda.OutOfMemoryError as exc:
            _free_device_memory()
            raise OutOfMemory(
                f"The GPU ran out of memory at {spec.width}x{spec.height} with "
                f"{spec.num_images} images; try fewer images or a smaller size."
            ) from exc
        inference_ms = int((time.perf_counter() - started) * 1000)
        manifest = self._manifest(pipeline, spec)
        images = [
            ImageOutput(image=image, seed=seed, manifest={**manifest, "seed": seed})
            for image, seed in zip(output.images, spec.seeds, strict=True)
        ]
        return GenerationResult(images=images, load_ms=load_ms, inference_ms=inference_ms)

    def _apply_scheduler(self, pipeline, spec: GenerationSpec) -> None:
        base = self._default_schedulers.setdefault(spec.model, dict(pipeline.scheduler.config))
        if spec.scheduler:
            pipeline.scheduler = build_scheduler(spec.scheduler, base)
        elif dict(pipeline.scheduler.config) != base:
            pipeline.scheduler = type(pipeline.scheduler).from_config(base)

    def _manifest(self, pipeline, spec: GenerationSpec) -> dict:
        model_dir = Path(spec.model) if is_local_source(spec.model) else None
        return {
            "model": {
                "source": spec.model,
                "weights_sha256": weights_digests(model_dir) if model_dir else {},
            },
            "scheduler": scheduler_record(pipeline.scheduler),
            "params": {
                "prompt": spec.prompt,
                "negative_prompt": spec.negative_prompt,
                "width": spec.width,
                "height": spec.height,
                "steps": spec.steps,
                "guidance_scale": spec.guidance_scale,
            },
            "device": self.profile.name,
            "versions": library_versions(),
        }


def _step_callback(on_step: StepCallback | None, total: int):
    def callback(pipeline, step_index, timestep, callback_kwargs):
        if on_step is not None:
            # Raising here aborts before the VAE decode; _interrupt alone would still decode.
            on_step(step_index + 1, total)
        return callback_kwargs

    return callback


def _free_device_memory() -> None:
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


__all__ = ["Engine", "GenerationCancelled"]
