"""Reads behind /metrics: job rows from the database, queues and workers from RQ."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Min
from django.utils import timezone
from rq import Worker
from rq.registry import StartedJobRegistry

from generation.models import GeneratedImage, GenerationJob
from generation.work_kind import QUEUE_NAMES
from training.work_kind import TRAINING_QUEUE
from work.models import WorkStatus
from work.redis_queue import get_queue, get_redis

# A scrape must stay cheap however busy the platform was: newest first, at most this many.
MAX_TIMED_JOBS = 10_000


def job_counts() -> dict[tuple[str, str], int]:
    """{(kind, status): count} over all job rows."""
    rows = GenerationJob.objects.values("kind", "status").annotate(n=Count("id")).order_by()
    return {(row["kind"], row["status"]): row["n"] for row in rows}


def image_count() -> int:
    return GeneratedImage.objects.count()


def recent_job_timings(hours: int) -> list[tuple[str, dict]]:
    """(kind, timings) of the jobs that succeeded within the last ``hours``, newest first."""
    since = timezone.now() - timedelta(hours=hours)
    return list(
        GenerationJob.objects.filter(status=WorkStatus.SUCCEEDED, finished_at__gte=since)
        .order_by("-finished_at")
        .values_list("kind", "timings")[:MAX_TIMED_JOBS]
    )


def queued_by_model() -> dict[str, tuple[int, float]]:
    """{model slug: (queued jobs, seconds the oldest has waited)} over queued job rows."""
    now = timezone.now()
    rows = (
        GenerationJob.objects.filter(status=WorkStatus.QUEUED)
        .values("params__model")
        .annotate(n=Count("id"), oldest=Min("created_at"))
        .order_by()
    )
    return {
        str(row["params__model"] or ""): (row["n"], (now - row["oldest"]).total_seconds())
        for row in rows
    }


def queue_depths() -> dict[str, int]:
    """Jobs waiting in each GPU queue (training included)."""
    return {name: get_queue(name).count for name in (*QUEUE_NAMES, TRAINING_QUEUE)}


def running_counts() -> dict[str, int]:
    """Jobs a worker has taken from each queue and not finished (RQ's started registry)."""
    redis = get_redis()
    names = (*QUEUE_NAMES, TRAINING_QUEUE)
    return {name: StartedJobRegistry(name, connection=redis).count for name in names}


def rq_worker_count() -> int:
    """RQ workers registered in Redis (any queue)."""
    return Worker.count(connection=get_redis())
