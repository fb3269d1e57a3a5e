"""The storage stage with the real tiny model, database and S3: a job handed off is
``running`` until its commit, the stage holds at most its capacity, and the reconciler leaves
a live worker's held jobs alone."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from generation.models import GenerationJob
from generation.services import job_create
from generation.work_kind import JOBS, reconcile_jobs
from gpu_worker.heartbeat import worker_state, write_heartbeat
from gpu_worker.serving import storage_stage
from gpu_worker.serving.batch_pass import run_jobs
from gpu_worker.serving.storage_stage import StorageStage
from work.lifecycle import work_claim_many
from work.redis_queue import get_redis
from work.workers import KEY_PREFIX

pytestmark = pytest.mark.django_db(transaction=True)

PARAMS = {"prompt": "a red fox", "width": 256, "height": 256, "steps": 2}


def claimed_job(owner, **params) -> GenerationJob:
    job, _ = job_create(owner=owner, kind="text", params={**PARAMS, **params})
    claimed = work_claim_many(JOBS, row_ids=[str(job.id)], worker_name="store-test")
    assert claimed == [str(job.id)]
    return GenerationJob.objects.get(pk=job.pk)


def test_a_handed_off_job_succeeds_only_after_its_commit_and_the_stage_is_bounded(
    make_user, empty_queues, monkeypatch
):
    release = threading.Event()
    real_upload = storage_stage._upload

    def held_upload(job, outcome):
        release.wait(timeout=120)  # the fault: storage is slow until the test lets it go
        real_upload(job, outcome)

    monkeypatch.setattr(storage_stage, "_upload", held_upload)
    owner = make_user()
    stage = StorageStage(capacity=1)
    first = claimed_job(owner, seed=1)
    try:
        assert run_jobs([first], stage.submit)[str(first.id)]["status"] == "storing"
        first.refresh_from_db()
        assert first.status == "running" and first.images.count() == 0
        assert stage.pending_ids() == {str(first.id)}

        # Back-pressure: the next job's hand-off waits while the stage is full.
        second = claimed_job(owner, seed=2)
        handed_off = threading.Event()

        def submit(batch):
            handed_off.set()  # denoised: the hand-off starts now and must wait
            stage.submit(batch)

        handing_off = threading.Thread(target=run_jobs, args=([second], submit))
        handing_off.start()
        assert handed_off.wait(timeout=120)
        handing_off.join(timeout=2)
        assert handing_off.is_alive() and stage.pending_ids() == {str(first.id)}
    finally:
        release.set()
    handing_off.join(timeout=120)
    assert stage.drain(timeout=120)
    stage.close()
    for job in GenerationJob.objects.filter(pk__in=[first.pk, second.pk]):
        assert job.status == "succeeded" and job.images.count() == 1


def test_the_reconciler_leaves_jobs_a_live_worker_holds_alone(make_user, empty_queues, settings):
    settings.ILLU_RECONCILE_GRACE_SECONDS = 0
    held, lost = claimed_job(make_user(), seed=1), claimed_job(make_user(), seed=2)
    earlier = timezone.now() - timedelta(seconds=5)
    GenerationJob.objects.filter(pk__in=[held.pk, lost.pk]).update(started_at=earlier)
    # The worker has moved on to another job; the held one is in its storage stage.
    state = worker_state(
        name="store-test", device="cpu", models=[], current_job="another", held_jobs=[str(held.id)]
    )
    write_heartbeat(get_redis(), state, ttl=30)
    try:
        report = reconcile_jobs()
    finally:
        get_redis().delete(KEY_PREFIX + "store-test")
    assert str(held.id) not in report.requeued_lost
    assert str(lost.id) in report.requeued_lost
    assert GenerationJob.objects.get(pk=held.pk).status == "running"
