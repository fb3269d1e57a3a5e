"""Claiming the next batch: read the queued rows, let the scheduling functions choose, take
the chosen rows atomically, and account for their queue entries."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from generation.models import GenerationJob, JobStatus
from generation.queueing import get_redis
from generation.services import jobs_mark_running

from .scheduling import QueuedJob, batch_key, fair_order, fifo_order, lora_key, pick_batch
from .state import ServingState

logger = logging.getLogger(__name__)

CANDIDATE_LIMIT = 1000  # the oldest queued rows the scheduler looks at per claim


def queued_jobs(now: datetime | None = None, woken_by: str | None = None) -> list[QueuedJob]:
    """Queued rows that may start now, oldest first. A retry waits for its retry_at, unless
    its own queue entry is what woke the worker (it was put back on purpose)."""
    now = now or timezone.now()
    eligible = Q(retry_at__isnull=True) | Q(retry_at__lte=now)
    if woken_by:
        eligible |= Q(pk=woken_by)
    rows = (
        GenerationJob.objects.filter(status=JobStatus.QUEUED)
        .filter(eligible)
        .order_by("created_at")
        .values("id", "owner_id", "priority", "created_at", "params")[:CANDIDATE_LIMIT]
    )
    return [
        QueuedJob(
            id=str(row["id"]),
            owner=str(row["owner_id"]),
            priority=row["priority"],
            created_at=row["created_at"],
            num_images=int(row["params"].get("num_images") or len(row["params"]["seeds"])),
            key=batch_key(row["params"]),
            loras=lora_key(row["params"]),
        )
        for row in rows
    ]


def owners_last_served(owners: set[str]) -> dict[str, datetime]:
    started = (
        GenerationJob.objects.filter(owner_id__in=owners, started_at__isnull=False)
        .values("owner_id")
        .annotate(last=Max("started_at"))
    )
    return {str(row["owner_id"]): row["last"] for row in started}


def scheduled_order(now: datetime | None = None, woken_by: str | None = None) -> list[QueuedJob]:
    jobs = queued_jobs(now, woken_by)
    if not settings.ILLU_FAIR_SHARE:
        return fifo_order(jobs)
    return fair_order(jobs, owners_last_served({job.owner for job in jobs}))


def max_batch_images(memory_profile: str) -> int:
    """ILLU_MAX_BATCH, but one image per pass where memory is short (offloaded models)."""
    return 1 if memory_profile == "low" else max(1, settings.ILLU_MAX_BATCH)


def claim_next_batch(
    *, worker_name: str, state: ServingState, memory_profile: str, woken_by: str | None = None
) -> tuple[list[GenerationJob], list[str]]:
    """Take the scheduler's next batch. Returns the claimed rows (in batch order) and the ids
    whose queue entries were removed because the batch took their jobs."""
    now = timezone.now()
    choice = pick_batch(
        scheduled_order(now, woken_by),
        max_batch=max_batch_images(memory_profile),
        loaded_loras=state.loaded_loras,
        passed_over=state.passed_over,
        max_pass_over=settings.ILLU_LORA_AFFINITY_MAX_PASS,
    )
    claimed = jobs_mark_running(
        job_ids=[job.id for job in choice.jobs], worker_name=worker_name, started_at=now
    )
    if not claimed:
        return [], []
    for job_id in choice.passed_over:
        state.passed_over[job_id] = state.passed_over.get(job_id, 0) + 1
    for job_id in claimed:
        state.passed_over.pop(job_id, None)
    removed = remove_queue_entries([job_id for job_id in claimed if job_id != woken_by])
    rows = GenerationJob.objects.in_bulk(claimed)
    return [rows[_pk(job_id, rows)] for job_id in claimed], removed


def _pk(job_id: str, rows: dict):
    return next(pk for pk in rows if str(pk) == job_id)


def remove_queue_entries(job_ids: list[str]) -> list[str]:
    """A job claimed into someone else's batch must not run again from its own entry: delete
    each entry still waiting on a queue (one already started by another worker is left to
    find the row running and skip)."""
    removed = []
    for job_id in job_ids:
        try:
            entry = Job.fetch(job_id, connection=get_redis(), serializer=JSONSerializer)
        except NoSuchJobError:
            continue
        if entry.get_status(refresh=False) == "queued":
            entry.delete(remove_from_queue=True)
            removed.append(job_id)
    if removed:
        logger.info("claimed into a batch; removed their queue entries: %s", ", ".join(removed))
    return removed
