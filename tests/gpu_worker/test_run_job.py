"""The job layer in-process: row -> engine -> storage -> row, with the real tiny model."""

import io
import json

import pytest
from PIL import Image

from generation.models import GenerationJob
from generation.services import job_create
from gpu_worker import tasks
from gpu_worker.engine.errors import ModelUnavailable
from gpu_worker.runtime import get_engine

pytestmark = pytest.mark.django_db(transaction=True)
# Tests that look at nothing a commit sets off (events, queue entries) roll back instead of
# emptying every table afterwards.
in_one_transaction = pytest.mark.django_db

# The tiny model at a small size that is not square (the engine serves it from 64 px).
PARAMS = {"prompt": "a red fox", "width": 96, "height": 64, "steps": 2, "seed": 11}


def create(owner, **overrides):
    job, _ = job_create(owner=owner, kind="text", params={**PARAMS, **overrides})
    return job


def test_job_runs_to_succeeded_with_stored_pngs_and_timings(make_user, empty_queues):
    job = create(make_user(), num_images=2)
    outcome = tasks.run_generation_job(str(job.id))
    job.refresh_from_db()
    assert outcome["status"] == "succeeded" and job.status == "succeeded"
    assert job.attempts == 1 and job.started_at and job.finished_at
    assert {"queue_ms", "load_ms", "inference_ms", "store_ms", "total_ms"} <= set(job.timings)
    images = list(job.images.order_by("index"))
    assert [image.seed for image in images] == [11, 12]
    for image in images:
        with image.file.open("rb") as handle:
            png = Image.open(io.BytesIO(handle.read()))
        assert png.format == "PNG" and png.size == (96, 64)
        assert image.manifest["seed"] == image.seed
        assert image.manifest["model"]["weights_sha256"]


def test_same_seed_gives_identical_pixels(make_user, empty_queues):
    owner = make_user()
    pixels = []
    for _ in range(2):
        job = create(owner)
        tasks.run_generation_job(str(job.id))
        with job.images.get().file.open("rb") as handle:
            pixels.append(Image.open(io.BytesIO(handle.read())).tobytes())
    assert pixels[0] == pixels[1]


@in_one_transaction
def test_a_job_that_is_no_longer_queued_is_not_run(make_user, empty_queues):
    job = create(make_user())
    GenerationJob.objects.filter(pk=job.pk).update(status="cancelled")
    assert tasks.run_generation_job(str(job.id)) == {"skipped": "cancelled"}
    job.refresh_from_db()
    assert job.status == "cancelled" and job.images.count() == 0 and job.attempts == 0


@in_one_transaction
def test_engine_errors_fail_the_job_with_their_code(make_user, empty_queues, monkeypatch):
    job = create(make_user())

    def unavailable(spec, on_step=None, **previews):
        raise ModelUnavailable("No diffusers model at '/nowhere'; check ILLU_SDXL_MODEL.")

    monkeypatch.setattr(get_engine(), "generate", unavailable)
    tasks.run_generation_job(str(job.id))
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error["code"] == "model_unavailable"
    assert "ILLU_SDXL_MODEL" in job.error["message"]


def test_storage_failure_is_retried_with_backoff_then_fails(
    make_user, empty_queues, monkeypatch, settings
):
    settings.ILLU_JOB_MAX_ATTEMPTS = 2
    job = create(make_user())
    from django.core.files.storage import Storage

    def broken_save(*args, **kwargs):
        raise ConnectionError("S3 unreachable")

    monkeypatch.setattr(Storage, "save", broken_save)
    tasks.run_generation_job(str(job.id))
    job.refresh_from_db()
    assert job.status == "queued" and job.error["code"] == "storage_error"
    assert job.retry_at is not None and job.attempts == 1 and job.images.count() == 0

    tasks.run_generation_job(str(job.id))
    job.refresh_from_db()
    assert job.status == "failed" and job.error["code"] == "storage_error"
    assert job.attempts == 2 and "gave up after 2 attempts" in job.error["message"]
    assert job.images.count() == 0


@in_one_transaction
def test_late_success_never_overwrites_a_finished_job(make_user, empty_queues):
    from generation.work_kind import JOBS
    from work.lifecycle import work_succeed

    job = create(make_user())
    GenerationJob.objects.filter(pk=job.pk).update(status="failed")
    assert work_succeed(JOBS, row_id=str(job.id), changes={"timings": {}}) is False
    job.refresh_from_db()
    assert job.status == "failed"


def test_out_of_memory_puts_the_job_back_announced_and_queued_for_the_low_memory_profile(
    make_user, empty_queues, unet_out_of_memory
):
    from work.redis_channel import events_channel
    from work.redis_queue import get_queue, get_redis

    job = create(make_user())
    get_queue("gpu").empty()  # what the worker enqueues, alone
    unet_out_of_memory(times=1)  # the device runs out of memory inside the engine
    events = get_redis().pubsub()
    events.subscribe(events_channel(str(job.id)))
    try:
        assert tasks.run_generation_job(str(job.id))["status"] == "queued"
        published = []
        while (message := events.get_message(timeout=1.0)) is not None:
            if message["type"] == "message":
                published.append(json.loads(message["data"]))
    finally:
        events.close()
    statuses = [event["data"]["status"] for event in published if event["event"] == "status"]
    job.refresh_from_db()
    assert job.status == "queued" and job.params["memory_profile"] == "low" and job.attempts == 1
    # Clients following the job see it go back to the queue, and a worker will run it.
    assert statuses == ["running", "queued"]
    assert get_queue("gpu").job_ids == [str(job.id)]
