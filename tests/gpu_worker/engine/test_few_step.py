"""Few-step samplers on the tiny SDXL: LCM, TCD and Euler over trailing timesteps (SDXL-Lightning,
Hyper-SD) are configured as their distilled models need, run exactly the steps asked, and the
``turbo`` quality preset draws other images than the standard one."""

from __future__ import annotations

import pytest

from generation.presets import QUALITY_PRESETS
from gpu_worker.engine.schedulers import build_scheduler
from tests.fixtures.engine import max_diff

# (scheduler, its class, the timesteps of 4 steps over the tiny model's 1000 training steps)
FEW_STEP = [
    ("lcm", "LCMScheduler", [999, 759, 499, 259]),
    ("tcd", "TCDScheduler", [999, 759, 499, 259]),
    ("euler_trailing", "EulerDiscreteScheduler", [999, 749, 499, 249]),
]


@pytest.mark.parametrize(("name", "cls", "timesteps"), FEW_STEP)
def test_few_step_schedulers_sample_their_own_timesteps(engine, make_spec, name, cls, timesteps):
    warm, _ = engine.pipelines.get(make_spec().model)
    scheduler = build_scheduler(name, warm.default_scheduler_config)
    scheduler.set_timesteps(4)
    assert type(scheduler).__name__ == cls
    assert [int(step) for step in scheduler.timesteps] == timesteps


@pytest.mark.parametrize(("name", "cls", "timesteps"), FEW_STEP)
def test_a_few_step_run_takes_the_steps_asked_and_records_its_sampler(
    engine, make_spec, name, cls, timesteps
):
    steps = []
    result = engine.generate(
        make_spec(scheduler=name, steps=4, guidance_scale=1.0),
        on_step=lambda step, total: steps.append((step, total)),
    )
    assert [total for _, total in steps] == [4] * 4
    record = result.images[0].manifest["scheduler"]
    assert record["name"] == name and record["class"] == cls
    if name == "euler_trailing":
        assert record["config"]["timestep_spacing"] == "trailing"


def test_turbo_preset_draws_other_images_than_the_standard_one(engine, make_spec):
    turbo, standard = QUALITY_PRESETS["turbo"], QUALITY_PRESETS["standard"]
    assert 4 <= turbo.steps <= 8 and 0 <= turbo.guidance_scale <= 2
    fast = engine.generate(
        make_spec(steps=turbo.steps, guidance_scale=turbo.guidance_scale, scheduler=turbo.scheduler)
    )
    slow = engine.generate(
        make_spec(steps=standard.steps, guidance_scale=standard.guidance_scale, scheduler="euler")
    )
    assert fast.images[0].manifest["params"]["steps"] == turbo.steps
    assert max_diff(fast, slow) > 0
