"""One table from what a run raised to what becomes of its row, on every path: a solo job, a
batch pass, the storage stage and a training. The faults are injected inside the engine (the
UNet raises), everything else is real."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from rq.timeouts import JobTimeoutException

from generation.models import GenerationJob
from generation.services import job_create
from generation.uploads import upload_create
from generation.work_kind import JOBS
from gpu_worker import tasks
from gpu_worker.engine.errors import GenerationCancelled, ModelUnavailable, OutOfMemory
from gpu_worker.engine.training.trainer import TrainingCancelled
from gpu_worker.failures import Outcome, StorageError, verdict_for
from gpu_worker.training_tasks import run_training_job
from tests import photos
from training.models import TrainingRun
from training.services import training_create
from training.work_kind import TRAININGS

PARAMS = {"prompt": "a red fox", "width": 256, "height": 256, "steps": 2}


def wrapped_timeout() -> Exception:
    """RQ's time limit as a library re-raises it (model loading, a thread pool): wrapped."""
    error = RuntimeError("Error while loading the model")
    error.__cause__ = JobTimeoutException("Task exceeded maximum timeout value (900 seconds)")
    return error


@pytest.mark.parametrize("kind", [JOBS, TRAININGS], ids=["job", "training"])
@pytest.mark.parametrize(
    ("exc", "outcome", "code"),
    [
        (JobTimeoutException("limit"), Outcome.FAIL, "timeout"),
        (wrapped_timeout(), Outcome.FAIL, "timeout"),
        (GenerationCancelled("cancelled"), Outcome.CANCEL, ""),
        (TrainingCancelled("cancelled"), Outcome.CANCEL, ""),
        (RedisConnectionError("gone"), Outcome.RETRY, "queue_unavailable"),
        (StorageError("S3 down"), Outcome.RETRY, "storage_error"),
        (ModelUnavailable("no model"), Outcome.FAIL, "model_unavailable"),
        (OutOfMemory("too big"), Outcome.FAIL, "out_of_memory"),
        (KeyError("bug"), Outcome.FAIL, "internal"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)
def test_the_one_table_maps_each_failure_to_its_outcome(kind, exc, outcome, code):
    verdict = verdict_for(exc, kind)
    assert (verdict.outcome, verdict.code) == (outcome, code)
    if code == "timeout":
        assert f"{kind.time_limit_s()} s limit" in verdict.message


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("jobs", [1, 2], ids=["solo", "batch"])
def test_a_wrapped_time_limit_fails_every_job_of_the_pass_as_a_timeout(
    make_user, empty_queues, unet_fault, jobs
):
    owner = make_user()
    rows = [job_create(owner=owner, kind="text", params=PARAMS)[0] for _ in range(jobs)]
    unet_fault(wrapped_timeout)
    outcome = tasks.run_generation_job(str(rows[0].id))
    assert outcome.get("batch", [str(rows[0].id)]) == [str(row.id) for row in rows]
    for row in GenerationJob.objects.filter(pk__in=[row.id for row in rows]):
        assert row.status == "failed" and row.error["code"] == "timeout", row.error
        assert "s limit" in row.error["message"] and row.images.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_wrapped_time_limit_fails_a_training_as_a_timeout(user, empty_queues, unet_fault):
    upload = upload_create(owner=user, upload=photos.upload_of(photos.astronaut()))
    run = training_create(
        owner=user, trigger_word="inkwash", upload_ids=[str(upload.id)], params={"steps": 2}
    )
    fault = unet_fault(wrapped_timeout)
    run_training_job(str(run.id))
    run.refresh_from_db()
    assert fault.raised == 1
    assert run.status == "failed" and run.error["code"] == "timeout", run.error
    assert run.lora is None and run.checkpoint_key == ""
    assert TrainingRun.objects.count() == 1
