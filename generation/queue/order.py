"""The order the GPU workers serve queued jobs in: the queued rows that may start now, put in
fair-share (or FIFO) order by the pure functions of ``scheduling``. Read by the workers' claim
and by the API's queue position, so both see the same order."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from work.models import WorkStatus

from ..models import GenerationJob
from .scheduling import QueuedJob, batch_key, fair_order, fifo_order, lora_key

CANDIDATE_LIMIT = 1000  # the oldest queued rows the scheduler looks at per claim


def queued_jobs(now: datetime | None = None, woken_by: str | None = None) -> list[QueuedJob]:
    """Queued rows that may start now, oldest first. A retry waits for its retry_at, unless
    its own queue entry is what woke the worker (it was put back on purpose)."""
    now = now or timezone.now()
    eligible = Q(retry_at__isnull=True) | Q(retry_at__lte=now)
    if woken_by:
        eligible |= Q(pk=woken_by)
    rows = (
        GenerationJob.objects.filter(status=WorkStatus.QUEUED)
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
            model=str(row["params"].get("model") or ""),
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
