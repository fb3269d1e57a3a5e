"""Finds jobs whose state in Postgres and in Redis disagree and mends them, so no job is lost:
run by every worker once a minute and by `python manage.py reconcile_jobs`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from rq.job import Job
from rq.serializers import JSONSerializer

from .models import GenerationJob, JobStatus
from .queueing import enqueue_generation_job, get_redis
from .services import job_cancel, job_leftover_files_delete, job_schedule_retry
from .webhooks import webhook_deliveries_enqueue_lost
from .worker_registry import live_workers

logger = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    requeued_lost: list[str] = field(default_factory=list)
    failed_lost: list[str] = field(default_factory=list)
    reenqueued: list[str] = field(default_factory=list)
    cancelled_deadline: list[str] = field(default_factory=list)
    reenqueued_webhooks: list[str] = field(default_factory=list)

    def total(self) -> int:
        return sum(len(ids) for ids in vars(self).values())


def rq_job_waiting(job_id: str) -> bool:
    """True when Redis still holds the job and it is waiting on a queue."""
    try:
        rq_job = Job.fetch(job_id, connection=get_redis(), serializer=JSONSerializer)
    except Exception:  # NoSuchJobError, or a payload nobody can read: either way, not waiting
        return False
    return rq_job.get_status(refresh=False) in ("queued", "scheduled", "deferred")


def live_worker_states() -> dict[str, dict]:
    """Each live worker's heartbeat state by name (current job, and every job it holds)."""
    return {worker["name"]: worker for worker in live_workers(get_redis())}


def reconcile_jobs(dry_run: bool = False) -> ReconcileReport:
    report = ReconcileReport()
    now = timezone.now()
    grace = now - timedelta(seconds=settings.ILLU_RECONCILE_GRACE_SECONDS)

    for job in GenerationJob.objects.filter(
        status__in=(JobStatus.QUEUED, JobStatus.RUNNING), cancel_at__lte=now
    ):
        report.cancelled_deadline.append(str(job.id))
        if not dry_run:
            job_cancel(job=job)

    live = live_worker_states()
    for job in GenerationJob.objects.filter(status=JobStatus.RUNNING, started_at__lt=grace):
        alive = job.worker_name in live
        worker = live.get(job.worker_name) or {}
        if alive and (
            worker.get("current_job") in (str(job.id), None)
            or str(job.id) in worker.get("jobs", [])
        ):
            continue  # still being worked on: denoising, storing, or between heartbeats
        reason = "worker is gone" if not alive else "worker moved on without finishing it"
        logger.warning("job %s was running on %s but its %s", job.id, job.worker_name, reason)
        if dry_run:
            report.requeued_lost.append(str(job.id))
            continue
        status = job_schedule_retry(
            job_id=str(job.id),
            code="worker_lost",
            message="The worker running this job stopped before finishing it.",
        )
        # Killed between upload and commit: its objects belong to no row; the rerun stores
        # its own, so the job never ends with two sets.
        job_leftover_files_delete(job_id=str(job.id))
        (report.failed_lost if status == JobStatus.FAILED else report.requeued_lost).append(
            str(job.id)
        )

    waiting = GenerationJob.objects.filter(status=JobStatus.QUEUED, created_at__lt=grace).filter(
        Q(retry_at__isnull=True) | Q(retry_at__lte=timezone.now())
    )
    for job in waiting:
        if rq_job_waiting(str(job.id)):
            continue
        report.reenqueued.append(str(job.id))
        if not dry_run:
            enqueue_generation_job(job)
    report.reenqueued_webhooks = webhook_deliveries_enqueue_lost(older_than=grace, dry_run=dry_run)
    if report.total():
        logger.info("reconciled jobs: %s", report)
    return report
