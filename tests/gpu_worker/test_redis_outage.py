"""Issue 13, finding 2 (job layer): a Redis outage mid-job is transient. The job goes back to
queued as `queue_unavailable` with its attempt counted, never `failed`."""

import pytest

from generation.models import GenerationJob
from generation.services import job_create
from gpu_worker import tasks

pytestmark = pytest.mark.django_db(transaction=True)


def test_redis_gone_mid_job_puts_the_job_back_as_transient(make_user, empty_queues, redis_down):
    # From here on Redis does not answer: the first step's cancel check fails mid-job, while
    # the database keeps working.
    job, _ = job_create(
        owner=make_user(), kind="text", params={"prompt": "a fox", "width": 256, "height": 256}
    )
    outcome = tasks.run_generation_job(str(job.id))

    job.refresh_from_db()
    assert outcome == {"status": "queued"}
    assert job.status == "queued" and job.attempts == 1
    assert job.error["code"] == "queue_unavailable"
    assert job.retry_at is not None and job.images.count() == 0
    assert not GenerationJob.objects.filter(status="failed").exists()
