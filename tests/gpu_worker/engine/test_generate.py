"""Text to image on the tiny SDXL: seeds, batches, schedulers, cancel, validation."""

from __future__ import annotations

import numpy as np
import pytest

from gpu_worker.engine.errors import GenerationCancelled, InvalidSpec
from gpu_worker.engine.schedulers import SCHEDULER_NAMES
from tests.fixtures.engine import max_diff, pixels


def test_same_spec_and_seed_give_identical_pixels(engine, make_spec):
    first = engine.generate(make_spec(seeds=(7,)))
    second = engine.generate(make_spec(seeds=(7,)))
    assert np.array_equal(pixels(first), pixels(second))
    assert max_diff(first, engine.generate(make_spec(seeds=(8,)))) > 0


def test_each_image_of_a_batch_matches_its_seed_alone(engine, make_spec):
    batch = engine.generate(make_spec(seeds=(3, 4)))
    alone = engine.generate(make_spec(seeds=(4,)))
    assert [image.seed for image in batch.images] == [3, 4]
    # Batched matmuls may round differently in the last float bit; at most 1/255 apart.
    assert np.abs(pixels(batch, 1) - pixels(alone)).max() <= 1
    assert np.abs(pixels(batch, 0) - pixels(alone)).max() > 10


def test_style_template_wraps_the_prompt(engine, make_spec):
    styled = engine.generate(make_spec(style_template="sketch of {prompt}, monochrome"))
    params = styled.images[0].manifest["params"]
    assert params["resolved_prompt"] == "sketch of a lighthouse at dusk, monochrome"
    assert max_diff(styled, engine.generate(make_spec())) > 0


@pytest.mark.parametrize("name", [n for n in SCHEDULER_NAMES if n != "euler"])
def test_scheduler_swap_changes_the_output(engine, make_spec, name):
    euler = engine.generate(make_spec(scheduler="euler"))
    other = engine.generate(make_spec(scheduler=name))
    assert other.images[0].manifest["scheduler"]["name"] == name
    assert max_diff(euler, other) > 0
    # The swap does not leak: the default scheduler gives the default pixels again.
    assert np.array_equal(pixels(engine.generate(make_spec())), pixels(euler))


def test_dpmpp_2m_uses_karras_sigmas(engine, make_spec):
    result = engine.generate(make_spec(scheduler="dpmpp_2m"))
    record = result.images[0].manifest["scheduler"]
    assert record["class"] == "DPMSolverMultistepScheduler"
    assert record["config"]["use_karras_sigmas"] is True


def test_cancel_at_step_two_of_ten_stops_before_the_vae_decode(engine, make_spec):
    warm, _ = engine.pipelines.get(make_spec().model)
    vae = warm.pipeline.vae
    original_decode = vae.decode
    decodes, steps = [], []

    def counting_decode(*args, **kwargs):
        decodes.append(1)
        return original_decode(*args, **kwargs)

    def on_step(step, total):
        steps.append((step, total))
        if step == 2:
            raise GenerationCancelled("cancelled by the user")

    vae.decode = counting_decode
    try:
        with pytest.raises(GenerationCancelled):
            engine.generate(make_spec(steps=10), on_step=on_step)
        assert steps == [(1, 10), (2, 10)]
        assert decodes == []
        engine.generate(make_spec(steps=2))
        assert decodes == [1]  # the wrapper does see decodes when a run completes
    finally:
        del vae.decode


@pytest.mark.parametrize(
    "overrides",
    [
        {"width": 100},
        {"height": 4096},
        {"width": 56},
        {"seeds": ()},
        {"seeds": tuple(range(9))},
        {"steps": 0},
    ],
)
def test_invalid_specs_are_refused(engine, make_spec, overrides):
    with pytest.raises(InvalidSpec):
        engine.generate(make_spec(**overrides))


def test_non_square_sizes_come_out_at_that_size(engine, make_spec):
    result = engine.generate(make_spec(width=96, height=64, seeds=(1, 2)))
    assert [image.image.size for image in result.images] == [(96, 64), (96, 64)]


def test_configured_vae_is_swapped_in(engine_config, make_spec, tmp_path, engine):
    import dataclasses

    import torch

    from gpu_worker.engine.devices import DeviceProfile
    from gpu_worker.engine.generate import Engine
    from gpu_worker.engine.tiny_models import _tiny_vae

    torch.manual_seed(123)
    _tiny_vae().save_pretrained(tmp_path / "vae", safe_serialization=True)
    config = dataclasses.replace(engine_config, vae_source=str(tmp_path / "vae"))
    swapped = Engine(DeviceProfile("cpu", torch.float32), config).generate(make_spec())
    assert max_diff(swapped, engine.generate(make_spec())) > 0
    vae_digests = swapped.images[0].manifest["vae"]["weights_sha256"]
    assert list(vae_digests) == ["diffusion_pytorch_model.safetensors"]
