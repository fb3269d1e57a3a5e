"""The worker process's warm state: one engine, its pipelines loaded once and reused."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from django.conf import settings

from .engine.generate import Engine
from .engine.tiny_models import ensure_tiny_sdxl

DEMO_MODEL = "demo:tiny-sdxl"


def configured_model() -> str:
    return settings.ILLU_SDXL_MODEL or DEMO_MODEL


def resolve_model_source(model: str) -> str:
    """Map a job's model name to what the engine loads: a hub id or a local directory."""
    if model == DEMO_MODEL:
        return str(ensure_tiny_sdxl(Path(settings.ILLU_MODELS_DIR)))
    return model


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    from .engine.devices import select_device

    return Engine(select_device(settings.ILLU_DEVICE or None))
