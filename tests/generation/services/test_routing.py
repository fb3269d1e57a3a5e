"""Checkpoint-aware routing over plain rows and heartbeats: no database, no Redis, no GPU."""

from datetime import UTC, datetime, timedelta

from generation.queue.scheduling import (
    QueuedJob,
    Routing,
    SwitchCosts,
    WorkerView,
    batch_key,
    fair_order,
    lora_key,
    pick_batch,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BASE = {"width": 64, "height": 64, "steps": 1, "scheduler": None, "guidance_scale": 5.0}


def job(name, model, owner="a", minute=0, priority="normal"):
    params = {**BASE, "model": model}
    return QueuedJob(
        id=name,
        owner=owner,
        priority=priority,
        created_at=T0 + timedelta(minutes=minute),
        num_images=1,
        key=batch_key(params),
        loras=lora_key(params),
        model=model,
    )


def fleet(*views):
    return {view.name: view for view in views}


def worker(name, *resident, busy=False, room=0):
    return WorkerView(name, frozenset(resident), busy, room)


def routing(me, views, passed=None, max_pass=3):
    return Routing(me=me, fleet=views, passed_over=passed or {}, max_pass=max_pass)


VIEWS = fleet(worker("w1", "ink"), worker("w2", "photo", busy=True), worker("w3", busy=True))


def test_a_worker_takes_the_first_job_for_a_model_it_holds_and_batches_only_that_model():
    queue = [job("p1", "photo"), job("i1", "ink", minute=1), job("p2", "photo", minute=2)]
    choice = pick_batch(queue, max_batch=4, routing=routing("w1", VIEWS))
    assert [j.id for j in choice.jobs] == ["i1"]
    assert choice.routed_over == ["p1"]


def test_a_job_skipped_up_to_the_bound_is_taken_by_whoever_comes_next():
    queue = [job("p1", "photo"), job("i1", "ink", minute=1)]
    choice = pick_batch(queue, max_batch=4, routing=routing("w1", VIEWS, passed={"p1": 3}))
    assert [j.id for j in choice.jobs] == ["p1"] and choice.routed_over == []


def test_with_nothing_of_its_own_a_worker_leaves_a_short_queue_to_the_models_holder():
    queue = [job("p1", "photo"), job("p2", "photo", minute=1)]
    choice = pick_batch(queue, max_batch=1, routing=routing("w1", VIEWS))
    # No load of a second copy: the head waits for w2, and the wait counts as a pass-over.
    assert choice.jobs == [] and choice.routed_over == ["p1"]


def test_it_takes_the_head_once_passed_over_to_the_bound_or_the_holders_queue_is_long():
    queue = [job("p1", "photo"), job("p2", "photo", minute=1)]
    bounded = pick_batch(queue, max_batch=1, routing=routing("w1", VIEWS, passed={"p1": 3}))
    assert [j.id for j in bounded.jobs] == ["p1"] and bounded.routed_over == []
    # More photo jobs than w2 serves within the bound (3 each): a second copy pays.
    long_queue = [job(f"p{n}", "photo", minute=n) for n in range(4)]
    helping = pick_batch(long_queue, max_batch=1, routing=routing("w1", VIEWS))
    assert [j.id for j in helping.jobs] == ["p0"]
    # Nobody else holds the model (its holder died): the head runs here.
    alone = fleet(worker("w1", "ink"), worker("w3", busy=True))
    assert [j.id for j in pick_batch(queue, max_batch=1, routing=routing("w1", alone)).jobs] == [
        "p1"
    ]


def test_a_model_nobody_holds_goes_to_the_worker_that_can_load_it_soonest():
    queue = [job("w", "watercolor"), job("i1", "ink", minute=1)]
    # w1 is full (no room), w3 is idle with room: w1 leaves the new model to w3 ...
    views = fleet(worker("w1", "ink"), worker("w3", room=1))
    assert [j.id for j in pick_batch(queue, max_batch=1, routing=routing("w1", views)).jobs] == [
        "i1"
    ]
    assert [j.id for j in pick_batch(queue, max_batch=1, routing=routing("w3", views)).jobs] == [
        "w"
    ]
    # ... but when every other worker is busy, the worker asking now is the soonest.
    busy = fleet(worker("w1", "ink"), worker("w3", "photo", busy=True))
    assert [j.id for j in pick_batch(queue, max_batch=1, routing=routing("w1", busy)).jobs] == ["w"]


def test_routing_never_crosses_priorities_or_breaks_fair_share():
    queue = fair_order(
        [
            job("hp", "photo", priority="high"),
            job("ni", "ink", minute=1),
            job("a2", "ink", owner="a", minute=2),
            job("b1", "photo", owner="b", minute=3),
        ]
    )
    # The high-priority photo job is at the head: w1 holds ink, but may not jump priorities:
    # it leaves the head to w2, which holds photo, and takes no ink job meanwhile ...
    choice = pick_batch(queue, max_batch=1, routing=routing("w1", VIEWS))
    assert choice.jobs == [] and choice.routed_over == ["hp"]
    # ... and with nobody holding photo it takes the head itself.
    alone = fleet(worker("w1", "ink"), worker("w3", busy=True))
    assert [j.id for j in pick_batch(queue, max_batch=1, routing=routing("w1", alone)).jobs] == [
        "hp"
    ]


def test_no_job_is_passed_over_more_than_the_bound_however_many_workers_skip_it():
    queue = [job("p1", "photo"), *[job(f"i{n}", "ink", minute=n + 1) for n in range(10)]]
    passed: dict[str, int] = {}
    starts = []
    for _ in range(10):
        choice = pick_batch(queue, max_batch=1, routing=routing("w1", VIEWS, passed=passed))
        for job_id in choice.routed_over:
            passed[job_id] = passed.get(job_id, 0) + 1
        taken = choice.jobs[0]
        starts.append(taken.id)
        queue = [j for j in queue if j is not taken]
    assert starts.index("p1") == 3 and passed["p1"] == 3


def test_the_fleets_own_figures_say_when_a_second_copy_of_a_model_pays():
    queue = [job(f"p{n}", "photo", minute=n) for n in range(3)]

    def first_pick(load_s, job_s):
        costs = SwitchCosts(load_s=load_s, job_s=job_s)
        view = Routing(me="w1", fleet=VIEWS, passed_over={}, max_pass=3, costs=costs)
        return [j.id for j in pick_batch(queue, max_batch=1, routing=view).jobs]

    # A GPU fleet: a load from disk costs 5 jobs; w2 serves the 3 photo jobs before w1 could
    # load photo: w1 leaves them to it.
    assert first_pick(load_s=5.0, job_s=1.0) == []
    # A CPU fleet: a load costs less than a job; a second copy serves the queue sooner.
    assert first_pick(load_s=0.5, job_s=1.0) == ["p0"]
