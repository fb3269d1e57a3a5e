"""Writes on jobs. Every status change is a conditional update, so a late callback can never
overwrite a job that already ended."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User

from .models import GenerationJob, JobPriority, JobStatus
from .params import resolve_params
from .queueing import enqueue_generation_job


@transaction.atomic
def job_create(
    *, owner: User, kind: str, params: dict[str, Any], priority: str = JobPriority.NORMAL
) -> GenerationJob:
    job = GenerationJob.objects.create(
        owner=owner, kind=kind, priority=priority, params=resolve_params(kind, params)
    )
    # Only a committed row is enqueued: a worker must never see an id it cannot load.
    transaction.on_commit(lambda: enqueue_generation_job(job))
    return job


def job_mark_running(*, job_id: str, worker_name: str) -> bool:
    """queued -> running; False if the job was cancelled or taken meanwhile."""
    from django.db.models import F

    updated = GenerationJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING,
        started_at=timezone.now(),
        worker_name=worker_name,
        attempts=F("attempts") + 1,
    )
    return updated == 1


def job_mark_succeeded(*, job_id: str, timings: dict[str, int]) -> bool:
    return _finish(job_id, JobStatus.SUCCEEDED, timings=timings, error=None)


def job_mark_failed(
    *, job_id: str, code: str, message: str, timings: dict[str, int] | None = None
) -> bool:
    return _finish(
        job_id, JobStatus.FAILED, timings=timings or {}, error={"code": code, "message": message}
    )


def _finish(job_id: str, status: str, *, timings: dict, error: dict | None) -> bool:
    now = timezone.now()
    job = GenerationJob.objects.filter(pk=job_id).only("created_at").first()
    if job is None:
        return False
    timings = {**timings, "total_ms": _ms_between(job.created_at, now)}
    updated = GenerationJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
        status=status, finished_at=now, timings=timings, error=error
    )
    return updated == 1


def _ms_between(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds() * 1000)
