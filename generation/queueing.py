"""Redis transport: queues, the JSON serializer, and enqueueing a job row by id."""

from functools import lru_cache

from django.conf import settings
from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

from .models import GenerationJob, JobPriority

QUEUE_BY_PRIORITY = {
    JobPriority.HIGH: "gpu-high",
    JobPriority.NORMAL: "gpu",
    JobPriority.LOW: "gpu-low",
}
# A worker serves its queues in this order, so high priority always goes first.
QUEUE_NAMES = ("gpu-high", "gpu", "gpu-low")
RUN_JOB_FUNC = "gpu_worker.tasks.run_generation_job"


@lru_cache(maxsize=4)
def _redis_for(url: str) -> Redis:
    return Redis.from_url(url)


def get_redis() -> Redis:
    return _redis_for(settings.REDIS_URL)


def get_queue(name: str) -> Queue:
    # JSON, not pickle: whoever can write to Redis must not be able to run code on workers.
    return Queue(name, connection=get_redis(), serializer=JSONSerializer)


def enqueue_generation_job(job: GenerationJob) -> None:
    """Put the job's id on its priority queue; the RQ job id is the row id."""
    get_queue(QUEUE_BY_PRIORITY[job.priority]).enqueue(
        RUN_JOB_FUNC,
        str(job.id),
        job_id=str(job.id),
        job_timeout=settings.ILLU_JOB_TIMEOUT,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        description=f"{job.kind} job {job.id}",
    )
