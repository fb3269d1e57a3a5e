"""A fleet of three real worker processes serving two checkpoints (one resident per worker):
every job ends once with one set of images, jobs cluster on the workers holding their model,
a model nobody holds starts within the routing bound, and a worker killed mid-job loses
nothing. Switches are counted from each job's ``worker`` and ``timings``."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from accounts.models import Quota
from catalog.models import BaseModel
from generation.models import GenerationJob
from generation.work_kind import reconcile_jobs
from gpu_worker.job_models import demo_variant
from tests.conftest import client_for
from tests.fixtures.lifecycle import wait_for
from work.workers import live_workers

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TINY = {"kind": "text", "width": 256, "height": 256, "steps": 1, "num_images": 1}
MAX_PASS = 4
FLEET_ENV = {
    "ILLU_MAX_RESIDENT_MODELS": "1",  # one model per worker: every switch shows
    "ILLU_MAX_BATCH": "1",
    "ILLU_ROUTING": "checkpoint",
    "ILLU_MODEL_AFFINITY_MAX_PASS": str(MAX_PASS),
}


@pytest.fixture
def checkpoints(user):
    """Two registered checkpoints (demo variants: shared text encoders, own UNets) and a
    third one no worker will hold at first."""
    Quota.objects.update_or_create(user=user, defaults={"max_concurrent_jobs": 100})
    slugs = ["fleet-ink", "fleet-photo", "fleet-watercolor"]
    for slug in slugs:
        demo_variant(slug)  # built once here, not raced by three workers
        BaseModel.objects.update_or_create(
            slug=slug, defaults={"name": slug, "family": "sdxl", "source": f"demo:{slug}"}
        )
    return slugs


@pytest.fixture
def fleet(worker_env, start_worker):
    worker_env.update(FLEET_ENV)

    def start(count: int = 3) -> list:
        tag = uuid.uuid4().hex[:6]  # a killed worker stays registered in RQ for a while
        return [start_worker(f"fleet-{tag}-{n}") for n in range(count)]

    return start


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


def test_jobs_cluster_on_the_workers_that_hold_their_model_and_a_new_model_starts_in_bound(
    api, empty_queues, checkpoints, fleet, make_user
):
    ink, photo, watercolor = checkpoints
    fleet(3)
    ids = [create(api, (ink, photo)[n % 2], f"job {n}") for n in range(30)]
    wait_for(lambda: GenerationJob.objects.filter(pk__in=ids, status="succeeded").count() >= 10)
    # Another user's job: fair share puts it next, while most of the 30 still wait.
    late = create(client_for(make_user("newcomer")), watercolor, "a new style meanwhile")
    wait_for(lambda: all_ended([*ids, late]), timeout=300)

    jobs = list(GenerationJob.objects.filter(pk__in=[*ids, late]).prefetch_related("images"))
    assert {job.status for job in jobs} == {"succeeded"}
    assert all(job.images.count() == 1 for job in jobs)  # each ran to completion once
    loads = [job for job in jobs if job.timings["model_load_ms"] > 0]
    assert all(job.timings["model_tier"] == "disk" for job in loads)
    assert all(job.timings["model_tier"] == "resident" for job in jobs if job not in loads)
    # The loads the jobs report are the model changes along each worker's jobs: clustered,
    # far below the ~20 that three workers taking 30 alternating jobs in turn would make.
    assert len(loads) == switches_by_order(jobs)
    assert len(loads) <= 7, Counter((j.worker_name, j.params["model"]) for j in jobs)
    # The new model's job: nobody held it, yet at most the bound's worth of the jobs queued
    # when it came started before it (each of the three workers may skip it up to the
    # fleet-wide bound between them, and start its own jobs meanwhile), and the others
    # kept serving their models.
    new = next(job for job in jobs if str(job.id) == late)
    waiting = [j for j in jobs if j.id != new.id and j.started_at > new.created_at]
    overtaken = [j for j in waiting if j.started_at < new.started_at]
    assert len(overtaken) <= MAX_PASS * 3, (len(overtaken), len(waiting))
    busy_meanwhile = [
        j for j in jobs if j.worker_name != new.worker_name and j.started_at > new.started_at
    ]
    assert busy_meanwhile  # the other workers kept serving their own models


def test_a_worker_killed_mid_job_leaves_its_job_to_the_others_and_it_ends_once(
    api, empty_queues, checkpoints, fleet, settings
):
    settings.ILLU_RECONCILE_GRACE_SECONDS = 0
    settings.ILLU_RETRY_BACKOFF_SECONDS = 0
    ink, photo, _ = checkpoints
    ids = [create(api, (ink, photo)[n % 2], f"slow {n}", steps=30) for n in range(6)]
    workers = fleet(3)
    running = wait_for(
        lambda: (
            GenerationJob.objects.filter(pk__in=ids, status="running")
            .exclude(worker_name="")
            .first()
        )
    )
    doomed = next(w for w in workers if w.name == running.worker_name)
    doomed.kill_hard()
    wait_for(lambda: doomed.name not in {w["name"] for w in live_workers()}, timeout=30)
    report = reconcile_jobs()
    assert str(running.id) in report.requeued_lost

    wait_for(lambda: all_ended(ids), timeout=300)
    jobs = list(GenerationJob.objects.filter(pk__in=ids).prefetch_related("images"))
    assert {job.status for job in jobs} == {"succeeded"}
    assert all(job.images.count() == 1 for job in jobs)
    rerun = next(job for job in jobs if job.id == running.id)
    assert rerun.worker_name != doomed.name and rerun.attempts == 2
