"""Where a queued job stands: its position and estimated start, computed from the same
order and batches the scheduler will serve (``scheduling.queue_estimates``)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from work.models import WorkStatus
from work.workers import live_workers

from ..models import GenerationJob
from .order import scheduled_order
from .scheduling import QueueEstimate, queue_estimates

RECENT_PASSES = 20


def seconds_per_batch() -> float:
    """How long a pass took lately (jobs of one batch share started_at), or the setting."""
    recent = (
        GenerationJob.objects.filter(status=WorkStatus.SUCCEEDED, started_at__isnull=False)
        .order_by("-finished_at")
        .values_list("started_at", "finished_at")[: RECENT_PASSES * 4]
    )
    passes = {started: finished for started, finished in recent if finished}
    durations = [(end - start).total_seconds() for start, end in passes.items()][:RECENT_PASSES]
    if not durations:
        return settings.ILLU_QUEUE_ESTIMATE_SECONDS
    return max(0.1, sum(durations) / len(durations))


def live_worker_count() -> int:
    try:
        return max(1, len(live_workers()))
    except Exception:  # no Redis: estimate for one worker
        return 1


def current_estimates() -> dict[str, QueueEstimate]:
    return queue_estimates(
        scheduled_order(),
        max_batch=max(1, settings.ILLU_MAX_BATCH),
        now=timezone.now(),
        seconds_per_batch=seconds_per_batch(),
        workers=live_worker_count(),
    )


def queue_state(job: GenerationJob, estimates: dict[str, QueueEstimate] | None = None):
    """``{"position", "batches_ahead", "estimated_start"}`` for a queued job, else None. A
    job waiting for a retry is placed from its retry time."""
    if job.status != WorkStatus.QUEUED:
        return None
    estimates = current_estimates() if estimates is None else estimates
    estimate = estimates.get(str(job.id))
    if estimate is None:
        start = job.retry_at or timezone.now() + timedelta(seconds=seconds_per_batch())
        return {"position": None, "batches_ahead": None, "estimated_start": start}
    return {
        "position": estimate.position,
        "batches_ahead": estimate.batches_ahead,
        "estimated_start": estimate.estimated_start,
    }
