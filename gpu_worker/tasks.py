"""The RQ entry point of generation jobs. RQ calls ``run_generation_job`` with nothing but the
row id; the serving loop decides what runs (this job, a batch with it, or a fairer batch), and
``serving.batch_pass`` or ``serving.solo`` generates each claimed job."""

from __future__ import annotations

from core.log_context import job_log_context
from generation.models import GenerationJob

from .serving.loop import serve


def run_generation_job(job_id: str) -> dict:
    """RQ entry point: every log line of the job carries its id, user and queue."""
    from rq import get_current_job

    from generation.work_kind import QUEUE_BY_PRIORITY

    row = GenerationJob.objects.filter(pk=job_id).values("owner__username", "priority").first()
    row = row or {"owner__username": "", "priority": "normal"}
    # Run by RQ: the queue it came from; run directly: the queue its priority maps to.
    queue = getattr(get_current_job(), "origin", "") or QUEUE_BY_PRIORITY[row["priority"]]
    with job_log_context(job_id, row["owner__username"], queue):
        # The scheduler decides what runs: this job, a batch with it, or a fairer batch.
        return serve(job_id)
