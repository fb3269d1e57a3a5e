"""The CUDA fast path: off the GPU it changes nothing; on a GPU it applies every switch."""

import pytest
import torch

from gpu_worker.engine.fast_path import FastPath, apply_fast_path, sync_qkv_fusion


def processors(pipeline) -> list[str]:
    return sorted({type(p).__name__ for p in pipeline.unet.attn_processors.values()})


def test_on_the_cpu_nothing_is_changed(engine, make_spec):
    warm, _ = engine.pipelines.get(make_spec().model)
    before = processors(warm.pipeline)
    everything = FastPath(compile_unet=True, compile_vae=True, cuda_graphs=True)
    assert apply_fast_path(warm.pipeline, "cpu", everything, compile_allowed=True) == []
    sync_qkv_fusion(warm.pipeline, "cpu", everything, uses_loras=False)
    assert processors(warm.pipeline) == before
    assert not getattr(warm.pipeline, "fusing_unet", False)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_cuda_the_switches_apply_and_fusion_follows_loras(tiny_models):
    from gpu_worker.engine.config import EngineConfig
    from gpu_worker.engine.devices import DeviceProfile
    from gpu_worker.engine.generate import Engine

    engine = Engine(DeviceProfile("cuda", torch.float16), EngineConfig())
    warm, _ = engine.pipelines.get(str(tiny_models["sdxl"]))
    assert "FusedAttnProcessor2_0" in processors(warm.pipeline)
    assert warm.pipeline.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    sync_qkv_fusion(warm.pipeline, "cuda", FastPath(), uses_loras=True)
    assert "FusedAttnProcessor2_0" not in processors(warm.pipeline)
