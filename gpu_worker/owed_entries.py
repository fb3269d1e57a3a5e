"""Queue entries a run owes back once RQ is done with the RQ job that runs it.

A row put back from inside its own RQ job (a woken job a fairer batch went before, a job
retried with the low-memory profile, a training paused for image jobs) must not be enqueued
there: its RQ job id is the row id, and RQ, ending the current job, would mark that
very entry finished and let it expire. So the entry is owed and put on the queue after RQ has
finished (``GpuWorker.execute_job``); outside an RQ worker at once. A worker killed before
that leaves the row queued without an entry, which the reconciler enqueues."""

from __future__ import annotations

from work.kinds import WorkKind
from work.models import WorkStatus
from work.redis_queue import enqueue_or_leave_to_reconciler

_owed: list[tuple[WorkKind, str]] = []


def owe_entry(kind: WorkKind, row_id: str) -> None:
    from rq import get_current_job

    _owed.append((kind, str(row_id)))
    if get_current_job() is None:
        restore_owed_entries()


def restore_owed_entries() -> None:
    """Enqueue every owed row that is still queued (a cancelled one owes nothing)."""
    owed = _owed[:]
    _owed.clear()
    for kind, row_id in owed:
        row = kind.model.objects.filter(pk=row_id, status=WorkStatus.QUEUED).first()
        if row is not None:
            enqueue_or_leave_to_reconciler(kind, row)
