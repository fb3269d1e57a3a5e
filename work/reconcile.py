"""Finds rows whose state in Postgres and in Redis disagree and mends them, so no work is lost:
run for every kind by each GPU worker once a minute and by the ``reconcile_*`` commands.

- a row past its ``cancel_at`` deadline is cancelled;
- a running row whose worker is gone (no heartbeat, or it moved on without finishing it) goes
  back to the queue after a back-off (``work_schedule_retry``), or fails once its attempts
  are spent;
- a queued row that Redis does not hold (an enqueue lost to an outage, a retry whose back-off
  has passed) is enqueued again."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from .kinds import WorkKind
from .lifecycle import work_cancel, work_schedule_retry
from .models import ACTIVE_STATUSES, WorkStatus
from .redis_queue import enqueue_row, rq_job_waiting
from .workers import live_worker_states, worker_holds

logger = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    requeued_lost: list[str] = field(default_factory=list)
    failed_lost: list[str] = field(default_factory=list)
    reenqueued: list[str] = field(default_factory=list)
    cancelled_deadline: list[str] = field(default_factory=list)

    def total(self) -> int:
        return sum(len(ids) for ids in vars(self).values())


def reconcile_work(
    kind: WorkKind, *, dry_run: bool = False, report: ReconcileReport | None = None
) -> ReconcileReport:
    """Mend the rows of one kind; with ``dry_run`` only report what would be done."""
    report = report if report is not None else ReconcileReport()
    rows = kind.model.objects
    now = timezone.now()
    grace = now - timedelta(seconds=settings.ILLU_RECONCILE_GRACE_SECONDS)

    for row in rows.filter(status__in=ACTIVE_STATUSES, cancel_at__lte=now):
        report.cancelled_deadline.append(str(row.id))
        if not dry_run:
            work_cancel(kind, row=row)

    live = live_worker_states(prefix=kind.heartbeat_prefix)
    for row in rows.filter(status=WorkStatus.RUNNING, started_at__lt=grace):
        if worker_holds(live, row.worker_name, str(row.id)):
            continue  # still being worked on: running, storing, or between heartbeats
        reason = "is gone" if row.worker_name not in live else "moved on without finishing it"
        logger.warning(
            "%s %s was running on %s, which %s", kind.label, row.id, row.worker_name, reason
        )
        if dry_run:
            report.requeued_lost.append(str(row.id))
            continue
        status = work_schedule_retry(
            kind, row_id=str(row.id), code="worker_lost", message=kind.lost_message(row)
        )
        kind.after_lost(row)
        lost = report.failed_lost if status == WorkStatus.FAILED else report.requeued_lost
        lost.append(str(row.id))

    waiting = rows.filter(status=WorkStatus.QUEUED, created_at__lt=grace).filter(
        Q(retry_at__isnull=True) | Q(retry_at__lte=timezone.now())
    )
    for row in waiting:
        if rq_job_waiting(str(row.id)):
            continue
        report.reenqueued.append(str(row.id))
        if not dry_run:
            enqueue_row(kind, row)
    if report.total():
        logger.info("reconciled %s rows: %s", kind.label, report)
    return report
