"""Several specs in one denoising pass: each member's images equal a solo run, a cancelled
member leaves at the next step, previews come from the latents."""

import numpy as np
import pytest

from gpu_worker.engine.batching import BatchMember
from gpu_worker.engine.errors import GenerationCancelled, InvalidSpec


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


@pytest.mark.parametrize("scheduler", [None, "dpmpp_2m", "euler_a"])
def test_each_member_of_a_batch_equals_its_solo_run(engine, make_spec, scheduler):
    specs = [
        make_spec(prompt="a lighthouse", seeds=(1,), scheduler=scheduler),
        make_spec(prompt="a fox", negative_prompt="blurry", seeds=(2, 3), scheduler=scheduler),
        make_spec(prompt="a castle", seeds=(4,), scheduler=scheduler),
    ]
    batch = engine.generate_batch([BatchMember(spec) for spec in specs])
    assert batch.batch_size == 4 and all(result is not None for result in batch.results)
    for spec, result in zip(specs, batch.results, strict=True):
        solo = engine.generate(spec)
        assert [o.seed for o in result.images] == list(spec.seeds)
        for batched, alone in zip(result.images, solo.images, strict=True):
            assert np.abs(pixels(batched.image) - pixels(alone.image)).max() <= 1
        assert result.images[0].manifest["params"]["prompt"] == spec.prompt
        assert result.images[0].manifest["batch"] == {"size": 4, "jobs": 3}


def test_a_cancelled_member_leaves_at_the_next_step_and_the_others_finish(engine, make_spec):
    steps_seen = {0: [], 1: [], 2: []}

    def reporter(index, cancel_at=None):
        def on_step(step, total):
            steps_seen[index].append(step)
            if step == cancel_at:
                raise GenerationCancelled(f"member {index} cancelled")

        return on_step

    specs = [
        make_spec(prompt=f"p{i}", seeds=(10 + i,), steps=4, scheduler="dpmpp_2m") for i in range(3)
    ]
    members = [
        BatchMember(specs[0], reporter(0)),
        BatchMember(specs[1], reporter(1, cancel_at=2)),
        BatchMember(specs[2], reporter(2)),
    ]
    batch = engine.generate_batch(members)
    assert batch.results[1] is None and "member 1" in str(batch.cancelled[1])
    assert steps_seen[1] == [1, 2] and steps_seen[0] == steps_seen[2] == [1, 2, 3, 4]
    for index in (0, 2):
        solo = engine.generate(specs[index])
        got = pixels(batch.results[index].images[0].image)
        assert np.abs(got - pixels(solo.images[0].image)).max() <= 1


def test_cancelling_every_member_aborts_before_the_decode(engine, make_spec):
    def cancel(step, total):
        raise GenerationCancelled("stop")

    with pytest.raises(GenerationCancelled):
        engine.generate_batch([BatchMember(make_spec(seeds=(1,)), cancel)])


def test_members_must_share_the_pass(engine, make_spec):
    with pytest.raises(InvalidSpec):
        engine.generate_batch([BatchMember(make_spec()), BatchMember(make_spec(steps=4))])


def test_previews_arrive_every_n_steps_as_small_images(engine, make_spec):
    seen = []
    spec = make_spec(steps=5, width=128, height=96)
    batch = engine.generate_batch(
        [BatchMember(spec, on_preview=lambda step, total, image: seen.append((step, image)))],
        preview_every=2,
    )
    assert [step for step, _ in seen] == [2, 4]
    assert seen[0][1].size == (16, 12) and seen[0][1].mode == "RGB"
    assert np.asarray(seen[0][1]).std() > 0
    assert batch.extra["preview_ms"] >= 0
    solo_seen = []
    engine.generate(spec, on_preview=lambda s, t, image: solo_seen.append(s), preview_every=2)
    assert solo_seen == [2, 4]
