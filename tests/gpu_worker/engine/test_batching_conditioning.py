"""Batches whose members bring their own control or reference images: one setup, each
member's images equal its solo run, a cancelled member leaves and the others finish."""

import numpy as np
import pytest

from gpu_worker.engine.batching import BatchMember, check_members
from gpu_worker.engine.errors import GenerationCancelled, InvalidSpec
from gpu_worker.engine.spec import ControlSpec
from tests.fixtures.engine import pattern_image


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def own_inputs(tiny_models, setup: str, image_seed: int) -> dict:
    """A member's conditioning for one named setup, its images drawn from ``image_seed``."""

    def control(model, kind="canny", scale=0.8, offset=0):
        image = pattern_image(image_seed + offset)
        return ControlSpec(image=image, model=str(tiny_models[model]), kind=kind, scale=scale)

    references = {"ip_adapter_images": (pattern_image(100 + image_seed),), "ip_adapter_scale": 0.7}
    return {
        "controlnet": {"controls": (control("controlnet"),)},
        "two_controlnets": {
            "controls": (control("controlnet"), control("controlnet", "depth", 0.5, offset=50))
        },
        "union": {"controls": (control("controlnet_union", "depth"),)},
        "ip_adapter": references,
        "controlnet_and_ip_adapter": {"controls": (control("controlnet"),), **references},
    }[setup]


def assert_equals_solo(engine, spec, result) -> None:
    solo = engine.generate(spec)
    assert [output.seed for output in result.images] == list(spec.seeds)
    for batched, alone in zip(result.images, solo.images, strict=True):
        difference = np.abs(pixels(batched.image) - pixels(alone.image)).max()
        assert difference <= 1, f"batched image differs from its solo run by {difference}/255"
    batched_manifest, solo_manifest = result.images[0].manifest, solo.images[0].manifest
    assert batched_manifest.get("controls") == solo_manifest.get("controls")
    assert batched_manifest.get("ip_adapter") == solo_manifest.get("ip_adapter")
    assert len(result.conditioning_images) == len(solo.conditioning_images)
    for batched, alone in zip(result.conditioning_images, solo.conditioning_images, strict=True):
        assert np.array_equal(pixels(batched), pixels(alone))


SETUPS = ["controlnet", "two_controlnets", "union", "ip_adapter", "controlnet_and_ip_adapter"]


@pytest.mark.parametrize("setup", SETUPS)
def test_members_with_their_own_images_each_equal_their_solo_run(
    engine, make_spec, tiny_models, setup
):
    specs = [
        make_spec(prompt="a lighthouse", seeds=(1,), **own_inputs(tiny_models, setup, 1)),
        make_spec(
            prompt="a fox",
            negative_prompt="blurry",
            seeds=(2, 3),
            **own_inputs(tiny_models, setup, 2),
        ),  # fmt: skip
        make_spec(prompt="a castle", seeds=(4,), **own_inputs(tiny_models, setup, 3)),
    ]
    batch = engine.generate_batch([BatchMember(spec) for spec in specs])
    assert batch.batch_size == 4 and all(result is not None for result in batch.results)
    for spec, result in zip(specs, batch.results, strict=True):
        assert_equals_solo(engine, spec, result)
        assert result.images[0].manifest["batch"] == {"size": 4, "jobs": 3}
    # Each member's own images went in, and its manifest names them.
    manifests = [result.images[0].manifest for result in batch.results]
    if "controls" in manifests[0]:
        assert len({m["controls"][0]["image_sha256"] for m in manifests}) == 3
    if "ip_adapter" in manifests[0]:
        assert len({m["ip_adapter"]["reference_images_sha256"][0] for m in manifests}) == 3


@pytest.mark.parametrize("setup", ["controlnet", "ip_adapter"])
def test_the_same_prompt_and_seed_with_other_images_differs(engine, make_spec, tiny_models, setup):
    specs = [make_spec(seeds=(7,), **own_inputs(tiny_models, setup, seed)) for seed in (1, 2)]
    batch = engine.generate_batch([BatchMember(spec) for spec in specs])
    one, other = (pixels(result.images[0].image) for result in batch.results)
    assert np.abs(one - other).max() > 0


def conditioned(make_spec, tiny_models, *, control=True, references=1, reference_seed=5,
                ip_adapter_scale=0.7, **control_changes):  # fmt: skip
    """A spec with one canny control and reference images, changed as asked."""
    if control_changes.get("model") == "union":
        control_changes["model"] = str(tiny_models["controlnet_union"])
    values = {"image": pattern_image(1), "model": str(tiny_models["controlnet"]),
              "kind": "canny", "scale": 0.8, **control_changes}  # fmt: skip
    return make_spec(
        controls=(ControlSpec(**values),) if control else (),
        ip_adapter_images=tuple(pattern_image(reference_seed + i) for i in range(references)),
        ip_adapter_scale=ip_adapter_scale,
    )


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"scale": 0.5}, "ControlNet setup"),
        ({"kind": "depth"}, "ControlNet setup"),
        ({"model": "union"}, "ControlNet setup"),
        ({"preprocess": True}, "ControlNet setup"),
        ({"guidance_end": 0.5}, "ControlNet setup"),
        ({"control": False}, "ControlNet setup"),
        ({"ip_adapter_scale": 0.3}, "IP-Adapter setup"),
        ({"references": 2}, "IP-Adapter setup"),
        ({"references": 0}, "IP-Adapter setup"),
    ],
)
def test_members_of_another_conditioning_setup_are_rejected(make_spec, tiny_models, change, says):
    lead = conditioned(make_spec, tiny_models)
    other = conditioned(make_spec, tiny_models, **change)
    with pytest.raises(InvalidSpec, match=says):
        check_members([BatchMember(lead), BatchMember(other)])
    # Other images with the same setup are what a batch is for.
    same_setup = conditioned(make_spec, tiny_models, image=pattern_image(2), reference_seed=9)
    check_members([BatchMember(lead), BatchMember(same_setup)])


def test_plain_members_never_mix_with_conditioned_ones(make_spec, tiny_models):
    plain = make_spec()
    controlled = conditioned(make_spec, tiny_models, references=0)
    with pytest.raises(InvalidSpec, match="ControlNet setup"):
        check_members([BatchMember(plain), BatchMember(controlled)])
    referenced = conditioned(make_spec, tiny_models, control=False)
    with pytest.raises(InvalidSpec, match="IP-Adapter setup"):
        check_members([BatchMember(plain), BatchMember(referenced)])


# Single-type ControlNet and IP-Adapter batches drop a cancelled member's rows; the Union
# ControlNet pipeline keeps its control inputs out of reach, so its rows ride along.
@pytest.mark.parametrize("setup", ["controlnet", "ip_adapter", "union"])
def test_a_cancelled_member_of_a_conditioned_batch_leaves_and_the_others_finish(
    engine, make_spec, tiny_models, setup
):
    steps_seen = {0: [], 1: [], 2: []}

    def reporter(index, cancel_at=None):
        def on_step(step, total):
            steps_seen[index].append(step)
            if step == cancel_at:
                raise GenerationCancelled(f"member {index} cancelled")

        return on_step

    specs = [
        make_spec(
            prompt=f"p{i}",
            seeds=(10 + i,),
            steps=4,
            scheduler="dpmpp_2m",
            **own_inputs(tiny_models, setup, i),
        )  # fmt: skip
        for i in range(3)
    ]
    previews = []
    members = [
        BatchMember(specs[0], reporter(0)),
        BatchMember(specs[1], reporter(1, cancel_at=2)),
        BatchMember(specs[2], reporter(2), on_preview=lambda s, t, image: previews.append(s)),
    ]
    batch = engine.generate_batch(members, preview_every=3)
    assert batch.results[1] is None and "member 1" in str(batch.cancelled[1])
    assert steps_seen[1] == [1, 2] and steps_seen[0] == steps_seen[2] == [1, 2, 3, 4]
    assert previews == [3]
    for index in (0, 2):
        assert_equals_solo(engine, specs[index], batch.results[index])
