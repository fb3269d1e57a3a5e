"""ControlNet: single-type and Union; scale 0 equals no control; images come back."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from gpu_worker.engine.errors import InvalidSpec
from gpu_worker.engine.spec import ControlSpec
from tests.fixtures.engine import max_diff, pattern_image, pixels


def control(model, scale=1.0, kind="canny", image=None, **kwargs) -> ControlSpec:
    return ControlSpec(
        image=image or pattern_image(9), model=str(model), kind=kind, scale=scale, **kwargs
    )


def test_controlnet_scale_zero_matches_no_control(engine, make_spec, tiny_models):
    plain = engine.generate(make_spec())
    zero = engine.generate(make_spec(controls=(control(tiny_models["controlnet"], 0.0),)))
    full = engine.generate(make_spec(controls=(control(tiny_models["controlnet"], 1.0),)))
    assert np.array_equal(pixels(plain), pixels(zero))
    assert max_diff(full, plain) > 0


def test_several_single_type_controls_each_with_its_scale(engine, make_spec, tiny_models):
    first = control(tiny_models["controlnet"], 0.8, image=pattern_image(1))
    second = control(tiny_models["controlnet"], 0.5, kind="depth", image=pattern_image(2))
    both = engine.generate(make_spec(controls=(first, second)))
    only_first = engine.generate(make_spec(controls=(first,)))
    assert max_diff(both, only_first) > 0
    assert len(both.conditioning_images) == 2
    assert both.extra["conditioning_images"] == both.conditioning_images
    assert [c["scale"] for c in both.images[0].manifest["controls"]] == [0.8, 0.5]


def test_union_controlnet_with_two_controls_runs(engine, make_spec, tiny_models):
    union = tiny_models["controlnet_union"]
    canny = control(union, 0.7, kind="canny", image=pattern_image(1))
    depth = control(union, 0.4, kind="depth", image=pattern_image(2))
    result = engine.generate(make_spec(controls=(canny, depth)))
    plain = engine.generate(make_spec())
    assert max_diff(result, plain) > 0
    assert [image.size for image in result.conditioning_images] == [(64, 64), (64, 64)]
    zero = engine.generate(make_spec(controls=(control(union, 0.0), control(union, 0.0))))
    assert np.array_equal(pixels(zero), pixels(plain))


def test_union_rejects_unknown_kind_and_mixing(engine, make_spec, tiny_models):
    with pytest.raises(InvalidSpec):
        engine.generate(make_spec(controls=(control(tiny_models["controlnet_union"], kind="x"),)))
    mixed = (control(tiny_models["controlnet_union"]), control(tiny_models["controlnet"]))
    with pytest.raises(InvalidSpec):
        engine.generate(make_spec(controls=mixed))


def test_preprocess_flag_calls_the_preprocessor(engine, make_spec, tiny_models, monkeypatch):
    calls = []

    def fake_preprocess(kind, image, *, width, height):
        calls.append((kind, width, height))
        return image.convert("L").convert("RGB")

    module = types.ModuleType("gpu_worker.engine.preprocessors")
    module.preprocess = fake_preprocess
    monkeypatch.setitem(sys.modules, "gpu_worker.engine.preprocessors", module)
    result = engine.generate(
        make_spec(controls=(control(tiny_models["controlnet"], preprocess=True),))
    )
    assert calls == [("canny", 64, 64)]
    red, green, blue = result.conditioning_images[0].split()
    assert np.array_equal(np.asarray(red), np.asarray(blue))  # the preprocessed image was used


def test_real_canny_preprocessor_feeds_the_controlnet(engine, make_spec, tiny_models):
    pytest.importorskip("cv2")
    pytest.importorskip("gpu_worker.engine.preprocessors")
    photo = pattern_image(6, size=96)
    result = engine.generate(
        make_spec(controls=(control(tiny_models["controlnet"], image=photo, preprocess=True),))
    )
    edges = np.asarray(result.conditioning_images[0])
    assert result.conditioning_images[0].size == (64, 64)
    assert set(np.unique(edges)) <= {0, 255}  # a binary edge map, not the photo
