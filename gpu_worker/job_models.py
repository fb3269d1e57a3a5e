"""A job's base model as the worker's residency and routing see it: the engine source of its
slug (``model_registry.source_for`` resolves registered slugs and the two ``make run`` demo
checkpoints), and the slug of each resident source for the heartbeat.

Any other ``demo:<name>`` source is a variant of the tiny model built on this worker (the
fleet benchmark's third checkpoint): the same text encoders and VAE files (so they are shared
when both are resident) and a UNet drawn from a seed derived from the name (its own images)."""

from __future__ import annotations

import zlib
from pathlib import Path

from django.conf import settings
from filelock import FileLock

from .engine.model_keys import model_key
from .runtime import model_set, resolve_model_source

DEMO_PREFIX = "demo:"
_SLUG_OF: dict[str, str] = {}  # engine source -> the slug a job named it by, in this process


def job_model_source(model: str) -> str:
    """What the engine loads for a job's ``params["model"]``: its source, with the model's
    own VAE when it names one (``engine.model_keys``; remembered for its slug)."""
    from .model_registry import vae_for

    source = resolve_model_source(model)
    if source.startswith(DEMO_PREFIX) and not settings.ILLU_SDXL_MODEL:
        source = str(demo_variant(source.removeprefix(DEMO_PREFIX)))
    key = model_key(source, vae_for(model))
    _SLUG_OF[key] = model
    return key


def resident_slugs(sources: list[str]) -> list[str]:
    """The slugs of the engine's resident sources (a source no job named: as it is)."""
    return [_SLUG_OF.get(source, source) for source in sources]


def demo_variant(name: str) -> Path:
    """The demo variant ``name``, built once under ILLU_MODELS_DIR/demo/variants."""
    from .engine.tiny_variants import build_tiny_variant

    root = Path(settings.ILLU_MODELS_DIR) / "demo" / "variants"
    root.mkdir(parents=True, exist_ok=True)
    target = root / name
    with FileLock(str(target) + ".lock"):  # several workers may ask at once
        return build_tiny_variant(Path(model_set().sdxl), target, seed=zlib.crc32(name.encode()))
