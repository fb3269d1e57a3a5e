"""Residency: several base models kept within a budget, least recently used out first, a host
tier that brings a model back without reading it from disk, and parts with identical weights
shared between checkpoints (and copied before a LoRA changes one)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from gpu_worker.engine.config import EngineConfig
from gpu_worker.engine.devices import DeviceProfile
from gpu_worker.engine.generate import Engine
from gpu_worker.engine.loading import PipelineCache
from gpu_worker.engine.residency import module_bytes, pipeline_modules
from gpu_worker.engine.spec import GenerationSpec, LoraSpec
from gpu_worker.engine.tiny_variants import build_tiny_variant

CPU = DeviceProfile("cpu", torch.float32)


@pytest.fixture(scope="module")
def variants(tiny_models, tmp_path_factory):
    """Three checkpoints: the tiny SDXL and two variants with their own UNet."""
    root = tmp_path_factory.mktemp("variants")
    base = tiny_models["sdxl"]
    return [
        str(base),
        str(build_tiny_variant(base, root / "v1", seed=101)),
        str(build_tiny_variant(base, root / "v2", seed=202)),
    ]


def _bytes(warm) -> int:
    return sum(module_bytes(m) for m in pipeline_modules(warm.pipeline).values())


def test_the_least_recently_used_model_leaves_first_when_the_count_is_full(variants):
    a, b, c = variants
    cache = PipelineCache(CPU, EngineConfig(max_resident_models=2, host_cache_bytes=0))
    cache.get(a)
    cache.get(b)
    cache.get(a)  # a is now the most recently used
    cache.get(c)
    assert cache.loaded() == [a, c]
    assert cache.fetch(a)[1].tier == "resident"
    assert cache.fetch(b)[1].tier == "disk"
    assert cache.status()["switches"] == 4  # a, b, c and b again: every load but the reuses


def test_the_byte_budget_holds_what_fits_counting_shared_parts_once(variants):
    a, b, c = variants
    probe = PipelineCache(CPU, EngineConfig(host_cache_bytes=0))
    one = _bytes(probe.get(a)[0])
    unet = module_bytes(probe.get(a)[0].pipeline.unet)
    # Room for one model and one more UNet: a second checkpoint fits (its text encoders and
    # VAE are the first one's), a third does not.
    budget = one + unet + unet // 2
    cache = PipelineCache(CPU, EngineConfig(resident_budget_bytes=budget, host_cache_bytes=0))
    first, _ = cache.get(a)
    second, _ = cache.get(b)
    assert second.pipeline.text_encoder is first.pipeline.text_encoder
    assert second.pipeline.text_encoder_2 is first.pipeline.text_encoder_2
    assert second.pipeline.vae is first.pipeline.vae
    assert second.pipeline.unet is not first.pipeline.unet
    assert cache.status()["device_bytes"] == one + unet
    assert cache.loaded() == [a, b]
    cache.get(c)
    assert cache.loaded() == [b, c]
    assert cache.status()["device_bytes"] <= budget


def test_a_model_pushed_off_comes_back_from_host_memory_without_a_load(variants):
    a, b, _ = variants
    cache = PipelineCache(CPU, EngineConfig(max_resident_models=1, host_cache_bytes=1 << 34))
    first, load = cache.fetch(a)
    assert load.tier == "disk"
    cache.get(b)
    assert cache.loaded() == [b] and cache.status()["host"] == [a]
    again, load = cache.fetch(a)
    assert again is first and load.tier == "host"
    assert cache.status()["host"] == [b]


def test_a_host_tier_without_room_drops_the_model(variants):
    a, b, _ = variants
    cache = PipelineCache(CPU, EngineConfig(max_resident_models=1, host_cache_bytes=1))
    cache.get(a)
    cache.get(b)
    assert cache.status()["host"] == []
    assert cache.fetch(a)[1].tier == "disk"


def _pixels(engine, model, loras=()):
    spec = GenerationSpec(
        model=model, prompt="a fox", seeds=(3,), width=64, height=64, steps=2, loras=loras
    )
    result = engine.generate(spec)
    return np.asarray(result.images[0].image), result.extra["model_load"]


def test_jobs_report_the_tier_and_a_lora_never_reaches_a_shared_text_encoder(variants, tiny_models):
    a, b, _ = variants
    engine = Engine(CPU, EngineConfig(max_resident_models=3, host_cache_bytes=0))
    before, load = _pixels(engine, a)
    assert load["tier"] == "disk" and load["ms"] > 0
    _, load = _pixels(engine, a)
    assert load == {"tier": "resident", "ms": 0}
    other, _ = _pixels(engine, b)
    assert not np.array_equal(before, other)  # another UNet: other pixels
    shared = engine.pipelines.get(b)[0].pipeline.text_encoder
    assert shared is engine.pipelines.get(a)[0].pipeline.text_encoder
    _pixels(engine, b, loras=(LoraSpec(str(tiny_models["lora_a"]), 1.0),))
    assert engine.pipelines.get(b)[0].pipeline.text_encoder is not shared  # its own copy now
    after, _ = _pixels(engine, a)
    assert np.array_equal(before, after)


def test_a_model_with_its_own_vae_decodes_with_that_vae_and_is_its_own_warm_model(
    tiny_models, tmp_path
):
    from diffusers import AutoencoderKL

    from gpu_worker.engine.model_keys import model_key
    from gpu_worker.engine.tiny_variants import build_tiny_vae

    base = str(tiny_models["sdxl"])
    own_vae = build_tiny_vae(tiny_models["sdxl"], tmp_path / "own-vae", seed=9)
    engine = Engine(CPU, EngineConfig(max_resident_models=2, host_cache_bytes=0))
    spec = GenerationSpec(model=base, prompt="a fox", seeds=(3,), width=64, height=64, steps=2)
    with_own = dataclasses.replace(spec, model=model_key(base, str(own_vae)))

    plain, own = engine.generate(spec), engine.generate(with_own)
    pixels = [np.asarray(result.images[0].image, dtype=np.int16) for result in (plain, own)]
    assert np.abs(pixels[0] - pixels[1]).max() > 10  # same latents, another decoder
    assert own.images[0].manifest["vae"]["source"] == str(own_vae)
    assert "vae" not in plain.images[0].manifest  # no ILLU_SDXL_VAE here: its folder's own
    # One source, two VAEs: two warm models, each with its VAE (the named one's weights).
    assert engine.pipelines.loaded() == [base, model_key(base, str(own_vae))]
    loaded = engine.pipelines.get(model_key(base, str(own_vae)))[0].pipeline.vae
    named = AutoencoderKL.from_pretrained(own_vae)
    assert all(
        torch.equal(a, b)
        for a, b in zip(loaded.state_dict().values(), named.state_dict().values(), strict=True)
    )
    assert engine.pipelines.get(base)[0].pipeline.vae is not loaded
