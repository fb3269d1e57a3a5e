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


def test_redis_gone_mid_batch_puts_every_member_back_as_transient(
    make_user, empty_queues, redis_down
):
    """The 20-job drill found this: Redis killed during a batched pass failed all its jobs."""
    from generation.work_kind import JOBS
    from gpu_worker.serving.batch_pass import run_jobs
    from work.lifecycle import work_claim_many

    owner = make_user()
    params = {"prompt": "a fox", "width": 256, "height": 256, "steps": 2}
    jobs = [
        job_create(owner=owner, kind="text", params={**params, "seed": s})[0] for s in (1, 2, 3)
    ]
    ids = [str(job.id) for job in jobs]
    assert sorted(work_claim_many(JOBS, row_ids=ids, worker_name="outage-test")) == sorted(ids)

    results = run_jobs(list(GenerationJob.objects.filter(pk__in=ids)), None)

    assert results == {job_id: {"status": "queued"} for job_id in ids}
    for job in GenerationJob.objects.filter(pk__in=ids):
        assert job.status == "queued" and job.attempts == 1
        assert job.error["code"] == "queue_unavailable" and job.images.count() == 0
    assert not GenerationJob.objects.filter(status="failed").exists()
