"""Shared engine fixtures: tiny models built once per session, one warm engine."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from gpu_worker.engine.config import EngineConfig
from gpu_worker.engine.devices import DeviceProfile
from gpu_worker.engine.generate import Engine
from gpu_worker.engine.spec import GenerationSpec, SpecLimits

SIZE = 64  # tiny models at 64 px: 8x8 latents, a few ms per step on CPU


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict:
    import torch

    from gpu_worker.engine.tiny_models import build_tiny_models

    torch.set_num_threads(1)
    return build_tiny_models(tmp_path_factory.mktemp("engine-models"))


@pytest.fixture(scope="session")
def engine_config(tiny_models, tmp_path_factory) -> EngineConfig:
    return EngineConfig(
        cache_dir=tmp_path_factory.mktemp("model-cache"),
        ip_adapter=str(tiny_models["ip_adapter"]),
        limits=SpecLimits(min_side=64),
    )


@pytest.fixture(scope="session")
def engine(engine_config) -> Engine:
    """One warm engine for the session, as in a worker: every job sets its own state."""
    import torch

    return Engine(DeviceProfile("cpu", torch.float32), engine_config)


@pytest.fixture
def make_spec(tiny_models):
    def build(**overrides) -> GenerationSpec:
        values = {
            "model": str(tiny_models["sdxl"]),
            "prompt": "a lighthouse at dusk",
            "seeds": (1,),
            "width": SIZE,
            "height": SIZE,
            "steps": 3,
            "guidance_scale": 5.0,
        }
        values.update(overrides)
        return GenerationSpec(**values)

    return build


def pixels(result, index: int = 0) -> np.ndarray:
    return np.asarray(result.images[index].image, dtype=np.int16)


def max_diff(a, b) -> int:
    return int(np.abs(pixels(a) - pixels(b)).max())


def pattern_image(seed: int, size: int = SIZE) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
