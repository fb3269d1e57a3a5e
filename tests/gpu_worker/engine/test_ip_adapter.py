"""IP-Adapter: reference images steer the output; scale matters; presets build specs."""

from __future__ import annotations

import numpy as np
import pytest

from gpu_worker.engine.presets import memory_spec, subject_spec
from tests.fixtures.engine import max_diff, pattern_image, pixels


def test_ip_adapter_scale_changes_the_output(engine, make_spec):
    reference = (pattern_image(1),)
    low = engine.generate(make_spec(ip_adapter_images=reference, ip_adapter_scale=0.2))
    high = engine.generate(make_spec(ip_adapter_images=reference, ip_adapter_scale=0.9))
    zero = engine.generate(make_spec(ip_adapter_images=reference, ip_adapter_scale=0.0))
    plain = engine.generate(make_spec())
    assert max_diff(low, high) > 0
    assert max_diff(high, plain) > 0
    assert np.array_equal(pixels(zero), pixels(plain))
    manifest = high.images[0].manifest["ip_adapter"]
    assert manifest["scale"] == 0.9
    assert len(manifest["weights_sha256"]) == 2  # adapter weights + image encoder


def test_reference_images_matter_and_several_can_be_given(engine, make_spec):
    one = engine.generate(make_spec(ip_adapter_images=(pattern_image(1),)))
    other = engine.generate(make_spec(ip_adapter_images=(pattern_image(2),)))
    both = engine.generate(make_spec(ip_adapter_images=(pattern_image(1), pattern_image(2))))
    assert max_diff(one, other) > 0
    assert max_diff(both, one) > 0


def test_the_adapter_stays_loaded_between_reference_and_plain_jobs(engine, make_spec, monkeypatch):
    plain = engine.generate(make_spec())
    with_reference = engine.generate(make_spec(ip_adapter_images=(pattern_image(1),)))
    warm, _ = engine.pipelines.get(make_spec().model)
    loads, encoder = warm.ip_adapter.loads, warm.pipeline.image_encoder
    # A plain job after it runs without its image tokens: the plain pixels, nothing unloaded.
    assert np.array_equal(pixels(engine.generate(make_spec())), pixels(plain))
    assert warm.pipeline.unet.encoder_hid_proj is None
    monkeypatch.setattr(warm.pipeline, "load_ip_adapter", lambda *a, **k: pytest.fail("reload"))
    again = engine.generate(make_spec(ip_adapter_images=(pattern_image(1),)))
    assert warm.ip_adapter.loads == loads and warm.pipeline.image_encoder is encoder
    assert np.array_equal(pixels(again), pixels(with_reference))


def test_memory_and_subject_presets(engine, make_spec, tiny_models):
    avatar = pattern_image(3)
    memory = memory_spec(
        model=str(tiny_models["sdxl"]),
        prompt="a picnic by the lake",
        avatar=avatar,
        seeds=(5,),
        width=64,
        height=64,
        steps=2,
    )
    assert memory.ip_adapter_images == (avatar,)
    assert "a picnic by the lake" in memory.style_template.replace("{prompt}", memory.prompt)
    subject = subject_spec(
        model=str(tiny_models["sdxl"]), photo=avatar, seeds=(5,), width=64, height=64, steps=2
    )
    assert subject.ip_adapter_scale == memory.ip_adapter_scale
    results = [engine.generate(spec) for spec in (memory, subject)]
    assert max_diff(*results) > 0
