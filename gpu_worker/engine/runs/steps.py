"""Steps the runs share: per-seed noise and the step callback of a text or batch pass."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from ..preview import PreviewCallback, latent_preview
from ..spec import GenerationSpec, StepCallback

LATENT_CHANNELS = 4


def seed_generators(seeds) -> list[torch.Generator]:
    """One CPU generator per image: CPU noise is the same on every device, and each image of
    a batch depends only on its own seed."""
    return [torch.Generator(device="cpu").manual_seed(seed) for seed in seeds]


def initial_latents(pipeline, spec: GenerationSpec, generators, device, dtype) -> torch.Tensor:
    """Each image's starting noise drawn from its own generator (what a batch of one gets)."""
    scale = pipeline.vae_scale_factor
    shape = (LATENT_CHANNELS, spec.height // scale, spec.width // scale)
    latents = torch.stack([torch.randn(shape, generator=g) for g in generators])
    return latents.to(device, dtype=dtype)


def step_callback(
    on_step: StepCallback | None,
    total: int,
    on_preview: PreviewCallback | None = None,
    preview_every: int = 0,
) -> Callable:
    """diffusers' ``callback_on_step_end`` for a solo pass: progress, then a preview every
    ``preview_every`` steps (never at the last one)."""

    def callback(pipeline, step_index, timestep, callback_kwargs):
        step = step_index + 1
        if on_step is not None:
            # Raising here aborts before the VAE decode; _interrupt alone would still decode.
            on_step(step, total)
        previews = on_preview is not None and preview_every > 0
        if previews and step % preview_every == 0 and step != total:
            on_preview(step, total, latent_preview(callback_kwargs["latents"][0]))
        return callback_kwargs

    return callback


def elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
