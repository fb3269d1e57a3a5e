"""Redis transport of background work: the connection web requests and workers share, RQ
queues with the JSON serializer, and putting a row's id on its kind's queue. The row in
Postgres stays the source of truth: what is lost here the reconciler puts back."""

import contextlib
import logging
import time
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

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


def enqueue_row(kind, row) -> None:
    """Put the row's id on its kind's queue; the RQ job id is the row id (so the reconciler
    can look a row up in Redis). Raises RedisError when Redis does not answer."""
    get_queue(kind.queue_name(row)).enqueue(
        kind.rq_function,
        str(row.id),
        job_id=str(row.id),
        job_timeout=kind.time_limit_s(),
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        description=kind.rq_description(row),
    )


def enqueue_or_leave_to_reconciler(kind, row) -> bool:
    """Enqueue; when Redis does not answer, the row stays ``queued`` and the reconciler
    enqueues it once Redis is back (queued rows without an RQ job). Nothing is lost and the
    client still gets its 201."""
    try:
        enqueue_row(kind, row)
    except RedisError as exc:
        logger.warning(
            "%s %s stored but not queued (Redis: %s); the reconciler will", kind.label, row.id, exc
        )
        return False
    return True


def rq_job_waiting(row_id: str) -> bool:
    """True when Redis still holds the row's RQ job and it is waiting on a queue."""
    try:
        rq_job = Job.fetch(row_id, connection=get_redis(), serializer=JSONSerializer)
    except Exception:  # NoSuchJobError, or a payload nobody can read: either way, not waiting
        return False
    waiting = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED)
    return rq_job.get_status(refresh=False) in waiting


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
