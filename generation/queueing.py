"""Redis transport: queues, the JSON serializer, and enqueueing a job row by id."""

import contextlib
import logging
import time
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from redis import Redis
from redis.exceptions import RedisError
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

logger = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _redis_for(url: str) -> Redis:
    # Short timeouts: a request never hangs on a Redis that is gone or stuck. RQ workers raise
    # the read timeout of their own connection above their blocking dequeue.
    return Redis.from_url(
        url,
        socket_connect_timeout=settings.ILLU_REDIS_CONNECT_TIMEOUT,
        socket_timeout=settings.ILLU_REDIS_SOCKET_TIMEOUT,
    )


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


def enqueue_or_leave_to_reconciler(job: GenerationJob) -> bool:
    """Enqueue after commit; when Redis does not answer, the row stays `queued` and the
    reconciler enqueues it once Redis is back (queued rows without an RQ job). Nothing is lost
    and the client still gets its 201."""
    try:
        enqueue_generation_job(job)
    except RedisError as exc:
        logger.warning("job %s stored but not queued (Redis: %s); the reconciler will", job.id, exc)
        return False
    return True


def wait_for_redis(
    connection: Redis,
    *,
    max_delay: float,
    first_delay: float = 0.5,
    should_stop: Callable[[], bool] = lambda: False,
) -> float | None:
    """Block until Redis answers PING, retrying with doubling delays up to ``max_delay``.
    Returns the seconds spent waiting, or None when ``should_stop()`` turned true first."""
    started = time.monotonic()
    delay = first_delay
    while not should_stop():
        try:
            connection.ping()
            return time.monotonic() - started
        except RedisError as exc:
            logger.warning("Redis is not answering (%s); trying again in %.1f s", exc, delay)
        # RQ's SIGTERM handler may fail to record the shutdown in Redis; should_stop says it.
        with contextlib.suppress(RedisError):
            time.sleep(delay)
        delay = min(delay * 2, max_delay)
    return None
