"""A fleet of three real worker processes serving two checkpoints (one resident per worker):
every job ends once with one set of images, jobs cluster on the workers holding their model,
a model nobody holds starts within the routing bound, and a worker killed mid-job loses
nothing. Switches are counted from each job's ``worker`` and ``timings``; the bound is
checked on claim order, not on time. One set of workers serves the whole module: production
workers that can also hold a run after a denoising step while a gate file exists
(paused_worker.HoldingWorker), so the kill provably lands mid-job."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from accounts.models import Quota
from catalog.models import BaseModel
from generation.models import GenerationJob
from generation.work_kind import reconcile_jobs
from gpu_worker.job_models import demo_variant
from tests.conftest import client_for, worker_environment
from tests.fixtures.lifecycle import stop_workers, wait_for
from tests.generation.lifecycle.paused_worker import PAUSE_AT_STEP, start_holding_workers
from work.workers import live_workers

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TINY = {"kind": "text", "width": 256, "height": 256, "steps": 1, "num_images": 1}
# Two workers on one model and one on the other: with a bound of 4 the lone worker's queue
# reaches it every few jobs and forces switches back and forth; 8 lets the fleet stay clustered.
MAX_PASS = 8
SLOW_STEPS = PAUSE_AT_STEP + 2  # a worker held after step PAUSE_AT_STEP is mid-job
SLUGS = ["fleet-ink", "fleet-photo", "fleet-watercolor"]
FLEET_ENV = {
    "ILLU_MAX_RESIDENT_MODELS": "1",  # one model per worker: every switch shows
    "ILLU_MAX_BATCH": "1",
    "ILLU_ROUTING": "checkpoint",
    "ILLU_MODEL_AFFINITY_MAX_PASS": str(MAX_PASS),
}


@pytest.fixture(scope="module")
def fleet(django_db_setup, django_db_blocker, demo_models, start_python, tmp_path_factory):
    """Three workers for the whole module (their start-ups cost more than the jobs): each
    test registers the checkpoints again (the database is emptied after each test), and the
    test that kills one runs last. Each holds a run after step PAUSE_AT_STEP while the file
    ``workers[0].gate`` exists (only the killing test creates it)."""
    with django_db_blocker.unblock():
        env = {**worker_environment(), **FLEET_ENV}
    for slug in SLUGS:
        demo_variant(slug)  # built once here, not raced by three workers
    tag = uuid.uuid4().hex[:6]  # a killed worker stays registered in RQ for a while
    gate = tmp_path_factory.mktemp("fleet") / "hold"
    names = [f"fleet-{tag}-{n}" for n in range(3)]
    workers = start_holding_workers(start_python, env, names, gate)
    yield workers
    stop_workers(workers)


@pytest.fixture
def checkpoints(user, fleet):
    """Two registered checkpoints (demo variants: shared text encoders, own UNets) and a
    third one no worker holds at first."""
    Quota.objects.update_or_create(user=user, defaults={"max_concurrent_jobs": 100})
    for slug in SLUGS:
        BaseModel.objects.update_or_create(
            slug=slug, defaults={"name": slug, "family": "sdxl", "source": f"demo:{slug}"}
        )
    return SLUGS


def create(api, model: str, prompt: str, **extra) -> str:
    response = api.post(
        "/api/v1/jobs/", {**TINY, "prompt": prompt, "model": model, **extra}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def all_ended(ids: list[str]) -> bool:
    return GenerationJob.objects.filter(pk__in=ids, status__in=["succeeded", "failed"]).count() == (
        len(ids)
    )


def switches_by_order(jobs: list[GenerationJob]) -> int:
    """Model changes along each worker's jobs in start order (its first job: a load)."""
    switches = 0
    by_worker: dict[str, list[GenerationJob]] = {}
    for job in sorted(jobs, key=lambda j: j.started_at):
        by_worker.setdefault(job.worker_name, []).append(job)
    for ran in by_worker.values():
        models = [job.params["model"] for job in ran]
        switches += 1 + sum(1 for a, b in zip(models, models[1:], strict=False) if a != b)
    return switches


def ran_in_order(jobs: list[GenerationJob]) -> str:
    """worker:model(+ when loaded) of each job in start order: what a failure shows."""
    ordered = sorted(jobs, key=lambda j: j.started_at)
    return " ".join(
        f"{j.worker_name[-1]}:{j.params['model'][6:]}{'+' if j.timings['model_load_ms'] else ''}"
        for j in ordered
    )


def test_jobs_cluster_on_the_workers_that_hold_their_model_and_a_new_model_starts_in_bound(
    api, empty_queues, checkpoints, make_user
):
    ink, photo, watercolor = checkpoints
    newcomer = client_for(make_user("newcomer"))
    # Each wave is committed at once, so what is queued when the workers look is fixed.
    with transaction.atomic():
        first = [create(api, (ink, photo)[n % 2], f"job {n}") for n in range(15)]
    wait_for(lambda: all_ended(first))
    # The workers now hold ink and photo. A newcomer's job for a model none of them holds
    # arrives together with 15 more of the others: fair share puts it at the head.
    with transaction.atomic():
        late = create(newcomer, watercolor, "a new style meanwhile")
        second = [create(api, (ink, photo)[n % 2], f"job {n}") for n in range(15, 30)]
    ids = [*first, late, *second]
    wait_for(lambda: all_ended(ids))

    jobs = list(GenerationJob.objects.filter(pk__in=ids).prefetch_related("images"))
    assert {job.status for job in jobs} == {"succeeded"}
    assert all(job.images.count() == 1 for job in jobs)  # each ran to completion once
    loads = [job for job in jobs if job.timings["model_load_ms"] > 0]
    assert all(job.timings["model_tier"] == "disk" for job in loads)
    assert all(job.timings["model_tier"] == "resident" for job in jobs if job not in loads)
    # The loads the jobs report are the model changes along each worker's jobs: clustered,
    # far below the ~20 that three workers taking 30 alternating jobs in turn would make.
    assert len(loads) == switches_by_order(jobs)
    assert len(loads) <= 7, ran_in_order(jobs)
    # The new model's job: every job of its wave that started before it passed it over (it
    # was the fair head from the moment the wave was committed), and the fleet-wide bound
    # caps those pass-overs; two more may slip in where the other workers' claims read the
    # count just before it grew. Meanwhile the other workers kept serving their models.
    new = next(job for job in jobs if str(job.id) == late)
    wave = [job for job in jobs if str(job.id) in second]
    overtaken = [job for job in wave if job.started_at < new.started_at]
    assert len(overtaken) <= MAX_PASS + 2, [(j.worker_name, j.params["model"]) for j in overtaken]
    busy_meanwhile = [
        j for j in wave if j.worker_name != new.worker_name and j.started_at > new.started_at
    ]
    assert busy_meanwhile  # the other workers kept serving their own models


def test_a_worker_killed_mid_job_leaves_its_job_to_the_others_and_it_ends_once(
    api, empty_queues, checkpoints, fleet, settings
):
    """Runs last in the module: it leaves two of the three workers."""
    settings.ILLU_RECONCILE_GRACE_SECONDS = 0
    settings.ILLU_RETRY_BACKOFF_SECONDS = 0
    ink, photo, _ = checkpoints
    gate = fleet[0].gate
    gate.touch()  # whichever worker reaches step PAUSE_AT_STEP of a job first holds there
    try:
        with transaction.atomic():
            ids = [create(api, model, f"slow {model}", steps=SLOW_STEPS) for model in (ink, photo)]
        doomed = wait_for(lambda: next((w for w in fleet if w.held_job()), None))
        running = GenerationJob.objects.get(pk=doomed.held_job())
        assert running.status == "running" and running.worker_name == doomed.name
        step = api.get(f"/api/v1/jobs/{running.id}/").json()["progress"]["step"]
        assert 0 < step < SLOW_STEPS  # mid-job
        doomed.kill_hard()
    finally:
        gate.unlink()  # the others go on (and hold no more)
    wait_for(lambda: doomed.name not in {w["name"] for w in live_workers()}, timeout=30)
    report = reconcile_jobs()
    assert str(running.id) in report.requeued_lost

    wait_for(lambda: all_ended(ids))
    jobs = list(GenerationJob.objects.filter(pk__in=ids).prefetch_related("images"))
    assert {job.status for job in jobs} == {"succeeded"}
    assert all(job.images.count() == 1 for job in jobs)
    rerun = next(job for job in jobs if job.id == running.id)
    assert rerun.worker_name != doomed.name and rerun.attempts == 2
