"""The CUDA fast path: off the GPU it changes nothing unless forced (as the tests force it);
on a GPU it applies every switch, and the fused QKV follows each job's LoRAs."""

import pytest
import torch

from gpu_worker.engine.fast_path import FastPath, apply_fast_path


def processors(module) -> list[str]:
    return sorted({type(p).__name__ for p in module.attn_processors.values()})


def test_on_the_cpu_nothing_is_changed_unless_forced(engine, make_spec):
    warm, _ = engine.pipelines.get(make_spec().model)
    before = processors(warm.pipeline.unet), processors(warm.pipeline.vae)
    assert apply_fast_path(warm.pipeline, "cpu", FastPath()) == []
    assert (processors(warm.pipeline.unet), processors(warm.pipeline.vae)) == before


def test_forced_on_the_cpu_plain_jobs_run_fused_and_lora_jobs_unfused(
    fast_engine, make_spec, tiny_models
):
    from gpu_worker.engine.spec import LoraSpec

    warm, _ = fast_engine.pipelines.get(make_spec().model)
    fast_engine.generate(make_spec(steps=1))
    assert processors(warm.pipeline.unet) == ["FusedAttnProcessor2_0"]
    assert processors(warm.pipeline.vae) == ["FusedAttnProcessor2_0"]
    assert warm.pipeline.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    seen = []
    lora = make_spec(steps=1, loras=(LoraSpec(str(tiny_models["lora_a"]), 0.5),))
    fast_engine.generate(lora, on_step=lambda *_: seen.append(processors(warm.pipeline.unet)))
    assert seen == [["AttnProcessor2_0"]]
    assert processors(warm.pipeline.unet) == ["FusedAttnProcessor2_0"]  # back at rest


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_cuda_the_switches_apply_and_tf32_is_on(tiny_models):
    from gpu_worker.engine.config import EngineConfig
    from gpu_worker.engine.devices import DeviceProfile
    from gpu_worker.engine.generate import Engine
    from gpu_worker.engine.spec import GenerationSpec

    engine = Engine(DeviceProfile("cuda", torch.float16), EngineConfig())
    model = str(tiny_models["sdxl"])
    engine.generate(GenerationSpec(model=model, prompt="x", seeds=(1,), width=64, height=64))
    warm, _ = engine.pipelines.get(model)
    assert processors(warm.pipeline.unet) == ["FusedAttnProcessor2_0"]
    assert warm.pipeline.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
