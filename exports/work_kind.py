"""Book exports as a kind of background work: the hooks ``work``'s one lifecycle calls (the
CPU queue, the book marked exported with the success, the upscale jobs of a cancelled export
cancelled too) and the exports' reconciler."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from books.models import Book, BookStatus
from core.stored_files import delete_files_on_commit
from generation.services import job_cancel
from work.kinds import WorkKind
from work.models import ACTIVE_STATUSES, WorkStatus
from work.reconcile import ReconcileReport, reconcile_work

from .heartbeat import EXPORT_HEARTBEAT_PREFIX
from .models import BookExport

EXPORT_QUEUE = "exports"
RUN_EXPORT_FUNC = "exports.tasks.run_export"
WAITING_CODE = "waiting_for_upscale"  # the error code of an export waiting for its upscales


class ExportWork(WorkKind):
    model = BookExport
    label = "export"
    rq_function = RUN_EXPORT_FUNC
    heartbeat_prefix = EXPORT_HEARTBEAT_PREFIX

    def queue_name(self, row: BookExport) -> str:
        return EXPORT_QUEUE

    def time_limit_s(self) -> int:
        return settings.ILLU_EXPORT_TIMEOUT

    def rq_description(self, row: BookExport) -> str:
        return f"{row.format} export {row.id}"

    def finish_changes(self, row: BookExport, status, changes) -> dict[str, Any]:
        if status == WorkStatus.SUCCEEDED:
            # In the success's transaction: the book is exported exactly when its file is.
            Book.objects.filter(pk=row.book_id).update(status=BookStatus.EXPORTED)
        elif row.file.name:
            delete_files_on_commit([row.file.name])
            return {"file": ""}
        return {}

    def after_cancel_queued(self, row: BookExport) -> None:
        """A cancelled export's unfinished upscale jobs are cancelled too."""
        for job in row.upscale_jobs.filter(status__in=ACTIVE_STATUSES):
            job_cancel(job=job)

    def total_steps(self, row: BookExport) -> int:
        return row.pages_total

    def resting_step(self, row: BookExport) -> int:
        return row.pages_done


EXPORTS = ExportWork()


def reconcile_exports(dry_run: bool = False) -> ReconcileReport:
    """``work.reconcile`` for exports: a lost enqueue is enqueued again, a waiting export whose
    wake-up was lost runs again (it only looks at its upscale jobs and waits again), a running
    one whose process is gone (its heartbeat expired, ``exports.heartbeat``) goes back. The
    export worker runs it on start and at RQ's maintenance interval; ``reconcile_exports``."""
    return reconcile_work(EXPORTS, dry_run=dry_run)
