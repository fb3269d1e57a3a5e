"""Resolving a job's parameters: explicit values, then the quality preset, then settings."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings

from .errors import InvalidParams
from .presets import DEFAULT_QUALITY, QUALITY_PRESETS

MAX_SEED = 2**63 - 1
# Kinds whose conditioning (avatars, characters, control images) this server can run today.
SUPPORTED_KINDS = ("text",)


def random_seed() -> int:
    return secrets.randbelow(2**32)


def resolve_params(kind: str, requested: dict[str, Any]) -> dict[str, Any]:
    """Return the complete parameter set a worker runs with, seeds included."""
    if kind not in SUPPORTED_KINDS:
        raise InvalidParams(
            f"Jobs of kind {kind!r} are not available on this server yet.",
            {"kind": [f"Kind {kind!r} is not available yet; use one of {SUPPORTED_KINDS}."]},
        )
    quality = requested.get("quality") or DEFAULT_QUALITY
    preset = QUALITY_PRESETS[quality]
    num_images = requested.get("num_images", 1)
    seed = requested.get("seed")
    seeds = (
        [seed + i for i in range(num_images)]
        if seed is not None
        else [random_seed() for _ in range(num_images)]
    )
    return {
        "prompt": requested["prompt"],
        "negative_prompt": requested.get("negative_prompt", ""),
        "quality": quality,
        "steps": requested.get("steps") or preset.steps,
        "guidance_scale": requested.get("guidance_scale", preset.guidance_scale),
        "scheduler": requested.get("scheduler") or "euler",
        "width": requested.get("width", 1024),
        "height": requested.get("height", 1024),
        "num_images": num_images,
        "seed": seed,
        "seeds": seeds,
        "model": settings.ILLU_SDXL_MODEL or "demo:tiny-sdxl",
    }
