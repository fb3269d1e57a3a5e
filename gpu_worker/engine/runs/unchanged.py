"""The edit jobs no model runs for: strength 0 (the source comes back) and the Lanczos
upscale (the source enlarged)."""

from __future__ import annotations

import time

from PIL import Image

from ..spec import GenerationResult, GenerationSpec, ImageOutput, StepCallback
from .edit_pass import edit_record
from .steps import elapsed_ms


def runs_no_model(spec: GenerationSpec) -> bool:
    return spec.strength == 0 or (spec.mode == "upscale" and spec.upscale_method == "lanczos")


def run_unchanged(
    spec: GenerationSpec, device: str, on_step: StepCallback | None = None
) -> GenerationResult:
    started = time.perf_counter()
    image = spec.source.convert("RGB")
    if spec.mode == "upscale":
        image = image.resize((spec.width, spec.height), Image.Resampling.LANCZOS)
    if on_step is not None:
        on_step(1, 1)
    manifest = {
        "model": None,
        "params": {"width": spec.width, "height": spec.height, "seeds": list(spec.seeds)},
        "edit": {**edit_record(spec), "steps_run": 0, "diffusion": False},
        "device": device,
    }
    outputs = [
        ImageOutput(image=image.copy(), seed=seed, manifest={**manifest, "seed": seed})
        for seed in spec.seeds
    ]
    return GenerationResult(images=outputs, load_ms=0, inference_ms=elapsed_ms(started))
