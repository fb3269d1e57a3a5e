"""The fp8 UNet path: off by default, applied only on CUDA capability >= 8.9, and on any other
device the pipeline stays exactly as loaded with a log line that says why."""

from __future__ import annotations

import logging

import torch

from gpu_worker.engine.config import EngineConfig
from gpu_worker.engine.fp8 import fp8_unsupported_reason, quantizable_linear


def test_fp8_needs_a_cuda_gpu_of_compute_capability_8_9_or_more():
    assert fp8_unsupported_reason("cuda:0", (9, 0)) is None  # Hopper
    assert fp8_unsupported_reason("cuda", (8, 9)) is None  # Ada
    assert "8.6 is below 8.9" in fp8_unsupported_reason("cuda", (8, 6))  # Ampere
    assert "not a CUDA GPU" in fp8_unsupported_reason("cpu")
    assert EngineConfig().fp8 is False
    assert quantizable_linear(torch.nn.Linear(32, 64)) and not quantizable_linear(
        torch.nn.Linear(8, 64)
    )


def test_fp8_asked_for_on_the_cpu_leaves_the_pipeline_unchanged_and_says_why(
    tiny_models, engine, make_spec, caplog
):
    from gpu_worker.engine.devices import DeviceProfile
    from gpu_worker.engine.generate import Engine
    from gpu_worker.engine.spec import SpecLimits

    fp8_engine = Engine(
        DeviceProfile("cpu", torch.float32), EngineConfig(fp8=True, limits=SpecLimits(64))
    )
    with caplog.at_level(logging.WARNING, logger="gpu_worker.engine.fp8"):
        result = fp8_engine.generate(make_spec(steps=2))
    assert "fp8 was asked for (ILLU_FP8) but the device is cpu" in caplog.text
    unet = fp8_engine.pipelines.get(make_spec().model)[0].pipeline.unet
    assert {type(m.weight) for m in unet.modules() if isinstance(m, torch.nn.Linear)} == {
        torch.nn.Parameter
    }
    plain = engine.generate(make_spec(steps=2))
    assert result.images[0].image.tobytes() == plain.images[0].image.tobytes()
