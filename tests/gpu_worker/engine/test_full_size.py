"""Full-size SDXL with random weights: architecture checks on CPU (meta), a real run on GPU."""

from __future__ import annotations

import time

import pytest
import torch

from gpu_worker.engine.full_size import (
    SDXL_UNET_PARAMETERS,
    build_full_size_pipeline,
    build_full_size_random,
    unet_parameter_count,
)


def test_unet_has_the_published_sdxl_parameter_count():
    assert unet_parameter_count() == SDXL_UNET_PARAMETERS


def test_full_pipeline_architecture_on_the_meta_device():
    pipeline = build_full_size_pipeline(device="meta", dtype=torch.float16)

    def count(module) -> int:
        return sum(parameter.numel() for parameter in module.parameters())

    assert count(pipeline.text_encoder) == pytest.approx(123.06e6, rel=0.01)
    assert count(pipeline.text_encoder_2) == pytest.approx(694.66e6, rel=0.01)
    assert count(pipeline.vae) == pytest.approx(83.65e6, rel=0.01)
    assert pipeline.vae_scale_factor == 8


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_full_size_1024px_30_steps_speed_and_peak_memory(tmp_path):
    from gpu_worker.engine.devices import select_device
    from gpu_worker.engine.generate import Engine
    from gpu_worker.engine.spec import GenerationSpec

    model = build_full_size_random(tmp_path / "sdxl-random")
    engine = Engine(select_device("cuda"))
    load_ms = engine.warm(str(model))
    spec = GenerationSpec(
        model=str(model), prompt="a lighthouse", seeds=(1,), steps=30, width=1024, height=1024
    )
    engine.generate(GenerationSpec(model=str(model), prompt="warm up", seeds=(1,), steps=2))
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    result = engine.generate(spec)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    peak_gib = torch.cuda.max_memory_allocated() / 1024**3
    print(
        f"\nfull-size SDXL 1024px 30 steps: {seconds:.2f} s, peak {peak_gib:.2f} GiB, "
        f"load {load_ms} ms, profile {engine.pipelines.memory.name}"
    )
    assert result.images[0].image.size == (1024, 1024)
    assert peak_gib < 40  # fp16 UNet + fp32-upcast VAE decode at 1024 px
