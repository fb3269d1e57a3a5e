"""Loading: warm cache, single-file checkpoints refused without config or when pickled."""

from __future__ import annotations

import pytest
import torch

from gpu_worker.engine.config import EngineConfig
from gpu_worker.engine.devices import DeviceProfile
from gpu_worker.engine.errors import ModelUnavailable, UnsafeWeights
from gpu_worker.engine.loading import PipelineCache, load_sdxl_pipeline

CPU = DeviceProfile("cpu", torch.float32)


def test_warm_pipeline_loads_once_and_lru_keeps_max_pipelines(tiny_models, tmp_path):
    import shutil

    copy = shutil.copytree(tiny_models["sdxl"], tmp_path / "copy")
    cache = PipelineCache(CPU, EngineConfig(max_resident_models=1))
    first, load_ms = cache.get(str(tiny_models["sdxl"]))
    again, warm_ms = cache.get(str(tiny_models["sdxl"]))
    assert again is first and load_ms > 0 and warm_ms == 0
    cache.get(str(copy))
    assert cache.loaded() == [str(copy)]


def test_single_file_checkpoint_needs_a_config_dir(tmp_path, tiny_models):
    unet_file = tiny_models["sdxl"] / "unet" / "diffusion_pytorch_model.safetensors"
    with pytest.raises(ModelUnavailable, match="single_file_config"):
        load_sdxl_pipeline(str(unet_file), CPU, EngineConfig())


def test_pickled_single_file_checkpoint_is_refused(tmp_path):
    checkpoint = tmp_path / "model.safetensors"
    torch.save({"state_dict": {}}, checkpoint)
    with pytest.raises(UnsafeWeights):
        load_sdxl_pipeline(str(checkpoint), CPU, EngineConfig(single_file_config=str(tmp_path)))


def test_missing_model_is_a_typed_error(tmp_path):
    with pytest.raises(ModelUnavailable):
        PipelineCache(CPU).get(str(tmp_path / "nothing-here"))


def test_single_file_checkpoint_gives_the_same_pixels_as_the_directory(
    tiny_models, engine, make_spec
):
    from gpu_worker.engine.generate import Engine
    from gpu_worker.engine.spec import SpecLimits

    config = EngineConfig(single_file_config=str(tiny_models["sdxl"]), limits=SpecLimits(64))
    single = Engine(CPU, config).generate(make_spec(model=str(tiny_models["single_file"])))
    from_dir = engine.generate(make_spec())
    assert (single.images[0].image.tobytes()) == from_dir.images[0].image.tobytes()
    digests = single.images[0].manifest["model"]["weights_sha256"]
    assert list(digests) == ["tiny-sdxl-single.safetensors"]
