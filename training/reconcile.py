"""Mends training runs whose state in Postgres and Redis disagree (as generation/reconcile.py
does for jobs): a run whose worker died goes back to the queue and resumes from its last
checkpoint on the next worker; a queued run missing from Redis is enqueued again."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from generation.reconcile import live_worker_states, rq_job_waiting

from .models import TrainingRun, TrainingStatus
from .queueing import enqueue_training_run
from .services import training_schedule_retry

logger = logging.getLogger(__name__)


@dataclass
class TrainingReconcileReport:
    requeued_lost: list[str] = field(default_factory=list)
    failed_lost: list[str] = field(default_factory=list)
    reenqueued: list[str] = field(default_factory=list)

    def total(self) -> int:
        return sum(len(ids) for ids in vars(self).values())


def reconcile_trainings(dry_run: bool = False) -> TrainingReconcileReport:
    report = TrainingReconcileReport()
    grace = timezone.now() - timedelta(seconds=settings.ILLU_RECONCILE_GRACE_SECONDS)
    live = live_worker_states()
    for run in TrainingRun.objects.filter(status=TrainingStatus.RUNNING, started_at__lt=grace):
        alive = run.worker_name in live
        if alive and live[run.worker_name].get("current_job") in (str(run.id), None):
            continue
        logger.warning(
            "training %s was running on %s, which is gone; it resumes from step %d",
            run.id,
            run.worker_name,
            run.checkpoint_step,
        )
        if dry_run:
            report.requeued_lost.append(str(run.id))
            continue
        status = training_schedule_retry(
            run_id=str(run.id),
            code="worker_lost",
            message=f"The worker stopped at about step {run.checkpoint_step} or later; "
            f"training resumes from the checkpoint at step {run.checkpoint_step}.",
        )
        target = report.failed_lost if status == TrainingStatus.FAILED else report.requeued_lost
        target.append(str(run.id))

    waiting = TrainingRun.objects.filter(status=TrainingStatus.QUEUED, created_at__lt=grace).filter(
        Q(retry_at__isnull=True) | Q(retry_at__lte=timezone.now())
    )
    for run in waiting:
        if rq_job_waiting(str(run.id)):
            continue
        report.reenqueued.append(str(run.id))
        if not dry_run:
            enqueue_training_run(run)
    if report.total():
        logger.info("reconciled training runs: %s", report)
    return report
