"""LoRA adapters: weights change pixels, compose, kohya naming, LRU cache, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gpu_worker.engine.errors import UnsafeWeights
from gpu_worker.engine.lora import LoraCache, resolve_lora
from gpu_worker.engine.spec import LoraSpec
from tests.fixtures.engine import max_diff, pixels


def lora(path, weight=0.8, **kwargs) -> LoraSpec:
    return LoraSpec(path=str(path), weight=weight, **kwargs)


def test_lora_weight_changes_pixels_and_zero_does_not(engine, make_spec, tiny_models):
    plain = engine.generate(make_spec())
    adapted = engine.generate(make_spec(loras=(lora(tiny_models["lora_a"]),)))
    zero = engine.generate(make_spec(loras=(lora(tiny_models["lora_a"], weight=0.0),)))
    assert max_diff(plain, adapted) > 0
    assert np.array_equal(pixels(plain), pixels(zero))
    # A job without LoRAs after one with them is the plain model again.
    assert np.array_equal(pixels(plain), pixels(engine.generate(make_spec())))


def test_two_loras_compose(engine, make_spec, tiny_models):
    a = engine.generate(make_spec(loras=(lora(tiny_models["lora_a"]),)))
    b = engine.generate(make_spec(loras=(lora(tiny_models["lora_b"]),)))
    both = engine.generate(
        make_spec(loras=(lora(tiny_models["lora_a"]), lora(tiny_models["lora_b"], 0.5)))
    )
    assert max_diff(both, a) > 0
    assert max_diff(both, b) > 0
    assert [entry["weight"] for entry in both.images[0].manifest["loras"]] == [0.8, 0.5]


def test_kohya_named_lora_loads_into_every_module_and_changes_pixels(
    engine, make_spec, tiny_models
):
    spec = make_spec(loras=(lora(tiny_models["lora_kohya"], name="kohya"),))
    adapted = engine.generate(spec)
    assert max_diff(adapted, engine.generate(make_spec())) > 0
    warm, _ = engine.pipelines.get(spec.model)
    adapted_modules = {
        component: sum(
            1
            for module in getattr(warm.pipeline, component).modules()
            if hasattr(module, "lora_B") and "kohya" in module.lora_B
        )
        for component in ("unet", "text_encoder", "text_encoder_2")
    }
    # 8 attention layers x 4 projections in the UNet; 2 layers x 4 in each text encoder.
    assert adapted_modules == {"unet": 32, "text_encoder": 8, "text_encoder_2": 8}


def test_same_adapter_set_costs_no_reload(engine, make_spec, tiny_models):
    spec = make_spec(loras=(lora(tiny_models["lora_a"]), lora(tiny_models["lora_b"])))
    engine.generate(spec)
    warm, _ = engine.pipelines.get(spec.model)
    loads = warm.loras.loads
    engine.generate(spec)
    engine.generate(make_spec(loras=(lora(tiny_models["lora_b"], 0.3),)))
    assert warm.loras.loads == loads
    status = engine.status()["models"][spec.model]
    assert status["lora_bytes"] > 0 and len(status["loras"]) >= 2


def test_trigger_words_are_appended_to_the_prompt(engine, make_spec, tiny_models):
    spec = make_spec(loras=(lora(tiny_models["lora_a"], trigger_words=("illu style",)),))
    params = engine.generate(spec).images[0].manifest["params"]
    assert params["resolved_prompt"] == "a lighthouse at dusk, illu style"


def test_lru_evicts_least_recently_used_within_the_budget(tiny_models):
    from diffusers import StableDiffusionXLPipeline

    pipeline = StableDiffusionXLPipeline.from_pretrained(tiny_models["sdxl"])
    a, b, k = (resolve_lora(lora(tiny_models[key])) for key in ("lora_a", "lora_b", "lora_kohya"))
    cache = LoraCache(budget_bytes=a.size_bytes + max(b.size_bytes, k.size_bytes))
    cache.activate(pipeline, [a])
    cache.activate(pipeline, [b])
    cache.activate(pipeline, [a])  # a is now the most recently used
    cache.activate(pipeline, [k])
    assert cache.loaded_names == [a.adapter_name, k.adapter_name]
    assert b.adapter_name not in pipeline.get_list_adapters().get("unet", [])
    assert cache.loads == 3


def test_pickle_file_named_safetensors_is_refused(engine, make_spec, tmp_path):
    fake = tmp_path / "evil.safetensors"
    torch.save({"weight": torch.zeros(2)}, fake)
    with pytest.raises(UnsafeWeights):
        engine.generate(make_spec(loras=(lora(fake),)))
    pickle = tmp_path / "style.ckpt"
    pickle.write_bytes(fake.read_bytes())
    with pytest.raises(UnsafeWeights):
        engine.generate(make_spec(loras=(lora(pickle),)))
