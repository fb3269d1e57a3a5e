"""The published layouts (tiny shapes, real names) load through the production loaders, from
hub ids resolved offline in a Hugging Face cache laid out as a download leaves it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gpu_worker.engine.config import EngineConfig
from gpu_worker.engine.devices import DeviceProfile
from gpu_worker.engine.errors import ModelUnavailable
from gpu_worker.engine.published_layouts import IP_ADAPTER_FILES, REPOS, SDXL_SINGLE_FILE
from gpu_worker.engine.spec import ControlSpec, LoraSpec, SpecLimits
from tests.fixtures.engine import hub_snapshot, max_diff, pattern_image, pixels

CPU = DeviceProfile("cpu", torch.float32)
CPU_HALF = DeviceProfile("cpu", torch.float16)  # loads only: nothing computes in fp16 here
SDXL = REPOS["sdxl"]
UNION = REPOS["controlnet_union"]


def new_engine(**config):
    from gpu_worker.engine.generate import Engine

    return Engine(CPU, EngineConfig(limits=SpecLimits(min_side=64), **config))


@pytest.fixture(scope="module")
def hub_engine():
    """One engine for the hub-id jobs of this module (the base model stays warm)."""
    return new_engine(depth_model=REPOS["depth"])


def test_sdxl_base_by_hub_id_loads_the_fp16_only_snapshot_and_hashes_just_those_files(
    offline_hub, hub_engine, engine, make_spec
):
    from gpu_worker.engine.weight_hashes import WEIGHT_HASHES

    result = hub_engine.generate(make_spec(model=SDXL, steps=2))

    digests = result.images[0].manifest["model"]["weights_sha256"]
    assert sorted(digests) == [
        "text_encoder/model.fp16.safetensors",
        "text_encoder_2/model.fp16.safetensors",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "vae/diffusion_pytorch_model.fp16.safetensors",
    ]
    # The same tiny weights rounded to fp16: the image is the fp32 one within rounding.
    assert max_diff(result, engine.generate(make_spec(steps=2))) <= 4
    assert not any("vae_1_0" in path for path in WEIGHT_HASHES.hashed)  # never loaded


def test_half_precision_takes_the_fp16_variant_where_both_are_published(offline_hub):
    from gpu_worker.engine.controlnet import ControlNetCache
    from gpu_worker.engine.hub import weights_choice
    from gpu_worker.engine.weight_hashes import WEIGHT_HASHES

    names = [
        "diffusion_pytorch_model.safetensors",
        "diffusion_pytorch_model.fp16.safetensors",
        "diffusion_pytorch_model_promax.safetensors",
        "diffusion_pytorch_model.bin",
    ]
    assert weights_choice(names, prefer_fp16=True) == (
        ["diffusion_pytorch_model.fp16.safetensors"],
        "fp16",
    )
    assert weights_choice(names, prefer_fp16=False) == (
        ["diffusion_pytorch_model.safetensors"],
        None,
    )
    source = REPOS["controlnet_canny"]
    model = ControlNetCache(CPU_HALF).get(source)
    assert model.dtype == torch.float16
    assert [p.name for p in WEIGHT_HASHES.loaded(source).files] == [
        "diffusion_pytorch_model.fp16.safetensors"
    ]


def test_single_file_checkpoint_by_hub_id_gives_the_directory_s_pixels(
    offline_hub, engine, make_spec
):
    single = new_engine(single_file_config=SDXL).generate(
        make_spec(model=f"{SDXL}/{SDXL_SINGLE_FILE}", steps=2)
    )
    assert pixels(single).tobytes() == pixels(engine.generate(make_spec(steps=2))).tobytes()
    assert list(single.images[0].manifest["model"]["weights_sha256"]) == [SDXL_SINGLE_FILE]


def test_a_vae_not_known_fp16_safe_keeps_its_own_force_upcast(tiny_models, offline_hub):
    from gpu_worker.engine.loading import load_sdxl_pipeline

    def vae_upcasts(vae_source: str) -> bool:
        config = EngineConfig(vae_source=vae_source)
        return load_sdxl_pipeline(
            str(tiny_models["sdxl"]), CPU_HALF, config
        ).vae.config.force_upcast

    assert vae_upcasts(str(tiny_models["sdxl"] / "vae")) is True  # SDXL's own VAE: fp32 decode
    assert vae_upcasts(f"{SDXL}/vae") is True  # a folder of a hub repo, fp16 files only
    assert vae_upcasts(REPOS["vae_fp16_fix"]) is False  # its config says it is fp16-safe


def test_xinsir_union_config_loads_as_union_and_its_control_mode_steers(
    offline_hub, engine, make_spec
):
    from diffusers import ControlNetUnionModel

    folder = str(hub_snapshot(offline_hub, UNION))  # the published folder, by path
    image = pattern_image(5)

    def run(kind: str):
        control = ControlSpec(image=image, model=folder, kind=kind, scale=1.0, preprocess=False)
        return engine.generate(make_spec(steps=2, controls=(control,)))

    canny, depth = run("canny"), run("depth")
    assert isinstance(engine.controlnets.get(folder), ControlNetUnionModel)
    assert max_diff(canny, depth) > 0  # control_mode reaches the model


def test_controlnets_load_by_hub_id_and_hash_only_the_file_they_load(
    offline_hub, hub_engine, make_spec
):
    from gpu_worker.engine.weight_hashes import WEIGHT_HASHES

    image = pattern_image(6)
    promax = f"{UNION}/diffusion_pytorch_model_promax.safetensors"
    for source, kind in [(REPOS["controlnet_canny"], "canny"), (UNION, "canny"), (promax, "tile")]:
        control = ControlSpec(image=image, model=source, kind=kind, scale=1.0, preprocess=False)
        for _ in range(2):
            result = hub_engine.generate(make_spec(model=SDXL, steps=1, controls=(control,)))
        loaded = WEIGHT_HASHES.loaded(source).files
        assert list(result.images[0].manifest["controls"][0]["weights_sha256"]) == [loaded[0].name]
        assert WEIGHT_HASHES.hashed.count(str(loaded[0])) == 1  # once, however many jobs
    assert hub_engine.controlnets.get(promax).config.num_control_type == 8


def test_h94_vit_h_adapters_take_the_vit_h_encoder_from_models(offline_hub, engine, make_spec):
    snapshot = hub_snapshot(offline_hub, REPOS["ip_adapter"])
    vit_h_by_path = str(snapshot / IP_ADAPTER_FILES["vit_h"])
    expected = {
        vit_h_by_path: "models/image_encoder",
        f"{REPOS['ip_adapter']}/{IP_ADAPTER_FILES['plus_vit_h']}": "models/image_encoder",
        f"{REPOS['ip_adapter']}/{IP_ADAPTER_FILES['bigg']}": "sdxl_models/image_encoder",
    }
    for weights, encoder in expected.items():
        spec = make_spec(steps=1, ip_adapter=weights, ip_adapter_images=(pattern_image(7),))
        files = engine.generate(spec).images[0].manifest["ip_adapter"]["weights_sha256"]
        assert any(path.endswith(f"{encoder}/model.safetensors") for path in files), files


def test_loras_in_kohya_and_peft_naming_load_by_hub_id(offline_hub, engine, make_spec, tiny_models):
    kohya_by_id = f"{REPOS['lora_kohya']}/style_kohya.safetensors"
    peft_by_id = f"{REPOS['lora_peft']}/pytorch_lora_weights.safetensors"
    by_id = engine.generate(make_spec(steps=2, loras=(LoraSpec(kohya_by_id, 0.8),)))
    by_path = engine.generate(
        make_spec(steps=2, loras=(LoraSpec(str(tiny_models["lora_kohya"]), 0.8),))
    )
    assert pixels(by_id).tobytes() == pixels(by_path).tobytes()
    peft = engine.generate(make_spec(steps=2, loras=(LoraSpec(peft_by_id, 0.8),)))
    assert max_diff(peft, engine.generate(make_spec(steps=2))) > 0


def test_depth_preprocessor_runs_the_configured_hub_model_on_the_engine_device(
    offline_hub, hub_engine, make_spec
):
    from gpu_worker.engine.preprocessors import depth

    control = ControlSpec(image=pattern_image(8), model=UNION, kind="depth", preprocess=True)
    result = hub_engine.generate(make_spec(model=SDXL, steps=1, controls=(control,)))

    depth_image = np.asarray(result.conditioning_images[0])
    assert depth_image.std() > 0  # a depth map of the photo, not a blank image
    estimators = [e for (source, _), e in depth._cache.items() if "dpt-large" in source]
    assert estimators and {e.device for e in estimators} == {hub_engine.profile.device}
    assert {str(p.device) for p in estimators[0].model.parameters()} == {"cpu"}


def test_lora_training_starts_from_the_fp16_only_sdxl_by_hub_id(offline_hub, tmp_path):
    from gpu_worker.engine.training.spec import TrainingImage, TrainingSpec
    from gpu_worker.engine.training.trainer import train_lora

    spec = TrainingSpec(
        model=SDXL, images=(TrainingImage(pattern_image(9), "a photo of zkx"),), rank=4,
        alpha=4.0, learning_rate=5e-3, steps=1, resolution=64, face_crop=False,
    )  # fmt: skip
    result = train_lora(spec, tmp_path / "lora.safetensors", profile=CPU)
    assert (tmp_path / "lora.safetensors").stat().st_size > 0
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in result.manifest["base_model_files"]


def test_a_hub_id_missing_from_the_offline_cache_is_a_clear_error(offline_hub):
    from gpu_worker.engine.loading import PipelineCache

    with pytest.raises(ModelUnavailable, match="HF_HUB_OFFLINE"):
        PipelineCache(CPU).get("nobody/not-in-the-cache")
