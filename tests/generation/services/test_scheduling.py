"""Scheduling decisions over plain rows: no database, no Redis, no GPU."""

from datetime import UTC, datetime, timedelta

from generation.queue.scheduling import (
    QueuedJob,
    batch_key,
    fair_order,
    fifo_order,
    lora_key,
    pick_batch,
    queue_estimates,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PARAMS = {
    "model": "demo:tiny-sdxl",
    "width": 256,
    "height": 256,
    "steps": 4,
    "scheduler": "euler",
    "guidance_scale": 5.0,
    "loras": [],
    "prompt": "a fox",
    "seeds": [1],
}
HOUSE = {"sha256": "a" * 64, "weight": 0.8}
INK = {"sha256": "b" * 64, "weight": 1.0}


def job(name, owner="a", minute=0, priority="normal", images=1, **params):
    merged = {**PARAMS, **params}
    return QueuedJob(
        id=name,
        owner=owner,
        priority=priority,
        created_at=T0 + timedelta(minutes=minute),
        num_images=images,
        key=batch_key(merged),
        loras=lora_key(merged),
    )


def test_batch_key_differs_for_everything_that_changes_the_pass():
    base = batch_key(PARAMS)
    assert batch_key({**PARAMS, "prompt": "other", "negative_prompt": "x", "seeds": [9]}) == base
    for change in (
        {"width": 512},
        {"height": 512},
        {"steps": 5},
        {"scheduler": "ddim"},
        {"guidance_scale": 6.0},
        {"model": "other"},
        {"loras": [HOUSE]},
        {"memory_profile": "standard"},
    ):
        assert batch_key({**PARAMS, **change}) != base, change
    assert batch_key({**PARAMS, "loras": [HOUSE, INK]}) == batch_key(
        {**PARAMS, "loras": [INK, HOUSE]}
    )


def test_consistency_filter_and_low_memory_jobs_run_alone():
    assert batch_key({**PARAMS, "consistency": {"filter": True}}) is None
    assert batch_key({**PARAMS, "consistency": {"filter": False}}) is not None
    assert batch_key({**PARAMS, "memory_profile": "low"}) is None


CANNY = {"type": "canny", "image": "upload-1", "scale": 0.8, "preprocess": True}


def test_control_jobs_share_a_key_with_the_same_control_setup_and_other_images():
    controlled = batch_key({**PARAMS, "control": CANNY})
    assert controlled is not None and controlled != batch_key(PARAMS)
    other_image = {**CANNY, "image": "upload-2"}
    assert batch_key({**PARAMS, "prompt": "b", "control": other_image}) == controlled
    for change in ({"scale": 0.5}, {"type": "depth"}, {"preprocess": False}):
        assert batch_key({**PARAMS, "control": {**CANNY, **change}}) != controlled, change
    # The control setup adds to the pass; it does not replace it.
    assert batch_key({**PARAMS, "steps": 9, "control": CANNY}) != controlled


def test_reference_jobs_share_a_key_with_the_same_adapter_scale_and_image_count():
    character = batch_key({**PARAMS, "reference_images": ["r1", "r2"], "ip_adapter_scale": 0.6})
    assert character is not None and character != batch_key(PARAMS)
    others = {**PARAMS, "reference_images": ["r3", "r4"], "ip_adapter_scale": 0.6}
    assert batch_key(others) == character
    assert batch_key({**others, "ip_adapter_scale": 0.3}) != character
    assert batch_key({**others, "reference_images": ["r3"]}) != character
    # An avatar is one reference image; a character with no references has none.
    memory = batch_key({**PARAMS, "avatar": "a1", "ip_adapter_scale": 0.33})
    assert memory == batch_key({**PARAMS, "avatar": "a2", "ip_adapter_scale": 0.33})
    assert memory == batch_key({**PARAMS, "reference_images": ["r1"], "ip_adapter_scale": 0.33})
    no_references = {**PARAMS, "reference_images": [], "ip_adapter_scale": 0.6}
    assert batch_key(no_references) == batch_key(PARAMS)
    both = batch_key({**PARAMS, "avatar": "a1", "control": CANNY, "ip_adapter_scale": 0.33})
    assert both not in (memory, batch_key({**PARAMS, "control": CANNY}))


def test_pick_batch_groups_control_jobs_by_their_setup():
    jobs = [
        job("c1", minute=0, control=CANNY),
        job("d1", minute=1, control={**CANNY, "type": "depth"}),
        job("c2", minute=2, control={**CANNY, "image": "upload-9"}),
        job("t1", minute=3),
    ]
    assert [j.id for j in pick_batch(jobs, max_batch=4).jobs] == ["c1", "c2"]


def test_editing_and_face_repair_jobs_run_alone():
    assert batch_key({**PARAMS, "source_image": "a1b2", "strength": 0.5}) is None
    edit_with_control = {**PARAMS, "source_image": "a1b2", "control": CANNY}
    assert batch_key(edit_with_control) is None
    assert batch_key({**PARAMS, "source_upload": "c3d4", "mask_rect": [0, 0, 8, 8]}) is None
    assert batch_key({**PARAMS, "consistency": {"repair": True}}) is None


def test_fair_order_serves_owners_round_robin_within_a_priority():
    heavy = [job(f"a{i}", "a", minute=i) for i in range(20)]
    lone = job("b0", "b", minute=30)
    order = [j.id for j in fair_order([*heavy, lone])]
    assert order[:3] == ["a0", "b0", "a1"]
    assert order[3:] == [f"a{i}" for i in range(2, 20)]


def test_fair_order_puts_the_least_recently_served_owner_first():
    jobs = [job("a5", "a", minute=5), job("b0", "b", minute=30)]
    # a was served a moment ago, b never: b goes first although a's job is older.
    assert [j.id for j in fair_order(jobs, {"a": T0 + timedelta(hours=1)})] == ["b0", "a5"]


def test_higher_priority_always_comes_first():
    jobs = [
        job("n", minute=0),
        job("h", "b", minute=5, priority="high"),
        job("l", minute=1, priority="low"),
    ]
    assert [j.id for j in fair_order(jobs)] == ["h", "n", "l"]


def test_pick_batch_fills_with_compatible_jobs_of_the_same_priority_up_to_the_limit():
    jobs = fair_order(
        [
            job("a0", "a", 0),
            job("a1", "a", 1, width=512),  # another size: not in this pass
            job("b0", "b", 2),
            job("c0", "c", 3, priority="high", loras=[]),
            job("a2", "a", 4),
            job("b1", "b", 5),
            job("a3", "a", 6),
        ]
    )
    choice = pick_batch(jobs, max_batch=4)
    assert [j.id for j in choice.jobs] == ["c0"]  # high first; nothing else is high
    rest = [j for j in jobs if j.id != "c0"]
    assert [j.id for j in pick_batch(rest, max_batch=4).jobs] == ["a0", "b0", "b1", "a2"]
    assert [j.id for j in pick_batch(rest, max_batch=1).jobs] == ["a0"]


def test_pick_batch_counts_images_and_never_batches_a_job_that_runs_alone():
    jobs = fair_order([job("a0", "a", 0, images=3), job("b0", "b", 1, images=2), job("c0", "c", 2)])
    assert [j.id for j in pick_batch(jobs, max_batch=4).jobs] == ["a0", "c0"]
    alone = fair_order([job("a0", "a", 0, avatar=1), job("b0", "b", 1)])
    assert [j.id for j in pick_batch(alone, max_batch=4).jobs] == ["a0"]
    big = fair_order([job("a0", "a", 0, images=8), job("b0", "b", 1)])
    assert [j.id for j in pick_batch(big, max_batch=4).jobs] == ["a0"]


def test_affinity_prefers_the_loaded_lora_set_but_only_within_the_bound():
    jobs = fair_order([job("ink", "a", 0, loras=[INK]), job("house", "b", 1, loras=[HOUSE])])
    loaded = lora_key({"loras": [HOUSE]})
    choice = pick_batch(jobs, max_batch=4, loaded_loras=loaded, max_pass_over=2)
    assert [j.id for j in choice.jobs] == ["house"] and choice.passed_over == ["ink"]
    # Passed over twice already: the fair head runs although its LoRA is not loaded.
    choice = pick_batch(
        jobs, max_batch=4, loaded_loras=loaded, passed_over={"ink": 2}, max_pass_over=2
    )
    assert [j.id for j in choice.jobs] == ["ink"] and choice.passed_over == []
    # Affinity off: fair order only.
    assert [j.id for j in pick_batch(jobs, max_batch=4, loaded_loras=loaded).jobs] == ["ink"]


def test_affinity_never_crosses_a_priority():
    jobs = fair_order(
        [job("h", "a", 0, priority="high", loras=[INK]), job("n", "b", 1, loras=[HOUSE])]
    )
    loaded = lora_key({"loras": [HOUSE]})
    assert [
        j.id for j in pick_batch(jobs, max_batch=4, loaded_loras=loaded, max_pass_over=5).jobs
    ] == ["h"]


def test_queue_estimates_follow_the_batches_the_scheduler_will_serve():
    heavy = [job(f"a{i}", "a", minute=i, width=512 if i % 2 else 256) for i in range(6)]
    lone = job("b0", "b", minute=30, width=512)
    ordered = fair_order([*heavy, lone])
    estimates = queue_estimates(ordered, max_batch=4, now=T0, seconds_per_batch=10.0)
    # Batch 1: a0 (256) with a2, a4; batch 2: b0 (512) with a1, a3, a5.
    assert estimates["a0"].position == 1 and estimates["a0"].batches_ahead == 0
    assert estimates["b0"].batches_ahead == 1 and estimates["b0"].position == 4
    assert estimates["b0"].estimated_start == T0 + timedelta(seconds=10)
    two_workers = queue_estimates(ordered, max_batch=4, now=T0, seconds_per_batch=10.0, workers=2)
    assert two_workers["b0"].estimated_start == T0


def test_fifo_order_is_priority_then_age():
    jobs = [
        job("a1", "a", 1),
        job("b0", "b", 5),
        job("a0", "a", 0),
        job("h", "c", 9, priority="high"),
    ]
    assert [j.id for j in fifo_order(jobs)] == ["h", "a0", "a1", "b0"]
