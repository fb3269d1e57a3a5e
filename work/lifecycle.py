"""The one lifecycle of background work, for every kind (``work.kinds.WorkKind``).

queued --claim--> running --succeed/fail/end cancelled--> succeeded | failed | cancelled
running --schedule_retry--> queued (after a back-off; failed once attempts are spent)
running --put_back--> queued (at once; a pause gives the attempt back)
queued --cancel--> cancelled (never starts)
failed | cancelled | stuck --requeue (staff)--> queued

Every status change is a compare-and-set on the status it expects, so a late callback never
overwrites a row that already ended or was cancelled. Every change is announced after commit
(a ``status`` event on the row's channel, then the kind's ``announced`` hook: webhooks), so
whoever reacts finds the row already updated. Rows are enqueued only once committed, and an
enqueue that Redis refuses is left to the reconciler: a Redis outage loses nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core.errors import Conflict

from .kinds import WorkKind
from .models import FINISHED_STATUSES, Work, WorkStatus
from .redis_channel import clear_cancel, publish_event, request_cancel
from .redis_queue import enqueue_or_leave_to_reconciler, get_queue

Changes = dict[str, Any] | Callable[[Work], dict[str, Any]] | None


def work_enqueue_on_commit(kind: WorkKind, row: Work) -> None:
    """Enqueue the row once the transaction commits (a worker must never see an id it cannot
    load); if Redis does not answer then, the reconciler enqueues it later."""
    transaction.on_commit(lambda: enqueue_or_leave_to_reconciler(kind, row))


def work_claim(kind: WorkKind, *, row_id: str, worker_name: str) -> bool:
    """queued -> running for ``worker_name``, the attempt counted, a past error and back-off
    cleared; False when the row was cancelled or taken meanwhile."""
    updated = kind.model.objects.filter(pk=row_id, status=WorkStatus.QUEUED).update(
        **_running_fields(worker_name, timezone.now())
    )
    if updated:
        _announce(kind, row_id, "start", {"status": WorkStatus.RUNNING})
    return updated == 1


def work_claim_many(
    kind: WorkKind, *, row_ids: list[str], worker_name: str, started_at: datetime | None = None
) -> list[str]:
    """queued -> running for several rows (a batch), all with one ``started_at``; returns the
    ids this worker took, in the given order. Each row is a compare-and-set on its status, so
    two workers never both take one; on PostgreSQL rows another worker is claiming right now
    are skipped (``FOR UPDATE SKIP LOCKED``) instead of waited for."""
    fields = _running_fields(worker_name, started_at or timezone.now())
    queued = kind.model.objects.filter(status=WorkStatus.QUEUED)
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            free = set(
                queued.select_for_update(skip_locked=True)
                .filter(pk__in=row_ids)
                .values_list("pk", flat=True)
            )
            kind.model.objects.filter(pk__in=free).update(**fields)
        claimed = [row_id for row_id in row_ids if _uuid(row_id) in free]
    else:
        # SQLite serializes writers: one conditional update per row is the atomic claim.
        claimed = [row_id for row_id in row_ids if queued.filter(pk=row_id).update(**fields)]
    for row_id in claimed:
        _announce(kind, row_id, "start", {"status": WorkStatus.RUNNING})
    return claimed


def _running_fields(worker_name: str, started_at: datetime) -> dict[str, Any]:
    return {
        "status": WorkStatus.RUNNING,
        "started_at": started_at,
        "worker_name": worker_name,
        "attempts": F("attempts") + 1,
        "retry_at": None,
        "error": None,
    }


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def work_succeed(
    kind: WorkKind,
    *,
    row_id: str,
    changes: Changes = None,
    finished_at: datetime | None = None,
    announce: dict[str, Any] | None = None,
) -> bool:
    """running -> succeeded with ``changes`` (a dict, or a function of the locked row that
    returns one); ``announce`` adds to the status event. False when the row is not running."""
    return _finish(
        kind, row_id, WorkStatus.SUCCEEDED, None, changes, finished_at, announce=announce
    )


def work_fail(
    kind: WorkKind, *, row_id: str, code: str, message: str, changes: Changes = None
) -> bool:
    """running -> failed with the error ``{"code", "message"}``."""
    error = {"code": code, "message": message}
    return _finish(kind, row_id, WorkStatus.FAILED, error, changes)


def work_end_cancelled(kind: WorkKind, *, row_id: str, changes: Changes = None) -> bool:
    """running -> cancelled, by the worker once it saw the cancel flag (or a deadline)."""
    return _finish(kind, row_id, WorkStatus.CANCELLED, None, changes)


def _finish(kind, row_id, status, error, changes, finished_at=None, announce=None) -> bool:
    with transaction.atomic():
        row = kind.model.objects.select_for_update().filter(pk=row_id).first()
        if row is None or row.status != WorkStatus.RUNNING:
            return False
        fields = {
            "status": status,
            "finished_at": finished_at or timezone.now(),
            "error": error,
            **(changes(row) if callable(changes) else changes or {}),
        }
        fields.update(kind.finish_changes(row, status, fields))
        kind.model.objects.filter(pk=row_id, status=WorkStatus.RUNNING).update(**fields)
        data = {"status": status, "error": error, **(announce or {})}
        _announce(kind, row_id, "completed", data)
    return True


def work_schedule_retry(kind: WorkKind, *, row_id: str, code: str, message: str) -> str:
    """Back-off after a transient failure (storage down, Redis lost, the worker gone): the
    row goes back to ``queued`` with ``retry_at`` = now + ILLU_RETRY_BACKOFF_SECONDS doubled
    per attempt so far, the error kept as the reason; once ILLU_JOB_MAX_ATTEMPTS is reached,
    ``failed`` instead. It never enqueues (the reconciler does once ``retry_at`` has passed)
    and never touches a row that changed status meanwhile. Returns the row's status
    afterwards ("missing" when there is no such row)."""
    row = kind.model.objects.filter(pk=row_id).first()
    if row is None:
        return "missing"
    if row.attempts >= settings.ILLU_JOB_MAX_ATTEMPTS:
        message = f"{message} (gave up after {row.attempts} attempts)"
        work_fail(kind, row_id=row_id, code=code, message=message)
        return WorkStatus.FAILED
    delay = settings.ILLU_RETRY_BACKOFF_SECONDS * 2 ** max(0, row.attempts - 1)
    updated = kind.model.objects.filter(pk=row_id, status=row.status).update(
        status=WorkStatus.QUEUED,
        started_at=None,
        worker_name="",
        retry_at=timezone.now() + timedelta(seconds=delay),
        error={"code": code, "message": f"{message} {kind.retry_note.format(delay=delay)}"},
    )
    if updated:
        _announce(kind, row_id, None, {"status": WorkStatus.QUEUED, "retry_in_s": delay})
    return WorkStatus.QUEUED if updated else row.status


def work_put_back(
    kind: WorkKind,
    *,
    row_id: str,
    changes: dict[str, Any] | None = None,
    count_attempt: bool = True,
    enqueue: bool = True,
    announce: dict[str, Any] | None = None,
) -> bool:
    """running -> queued at once, with ``changes``: the worker hands the row back to run
    again differently (the low-memory profile after running out of memory; the attempt stays
    counted), or to give way to more urgent work (a training paused for waiting image jobs:
    ``count_attempt=False``, the attempt is given back). Announced with ``announce`` added to
    the status event; enqueued once committed unless the caller enqueues it itself
    (``enqueue=False``). False when the row is not running."""
    fields: dict[str, Any] = {"status": WorkStatus.QUEUED, "started_at": None, "worker_name": ""}
    if not count_attempt:
        fields["attempts"] = F("attempts") - 1
    with transaction.atomic():
        updated = kind.model.objects.filter(pk=row_id, status=WorkStatus.RUNNING).update(
            **fields, **(changes or {})
        )
        if updated:
            _announce(kind, row_id, None, {"status": WorkStatus.QUEUED, **(announce or {})})
            if enqueue:
                work_enqueue_on_commit(kind, kind.model.objects.get(pk=row_id))
    return updated == 1


def work_cancel(kind: WorkKind, *, row: Work) -> Work:
    """A cancel request (API, pages, admin, a deadline): a queued row ends at once and never
    starts; a running one stops at its worker's next check of the cancel flag. A finished
    row is a Conflict. Needs Redis (the flag); without it RedisError reaches the caller."""
    if row.status in FINISHED_STATUSES:
        raise Conflict(
            f"{kind.label.capitalize()} {row.id} already ended with status {row.status}; "
            "nothing to cancel."
        )
    request_cancel(str(row.id))
    queued = kind.model.objects.filter(pk=row.pk, status=WorkStatus.QUEUED)
    if queued.update(status=WorkStatus.CANCELLED, finished_at=timezone.now()):
        get_queue(kind.queue_name(row)).remove(str(row.id))
        kind.after_cancel_queued(row)
        _announce(kind, row.id, "completed", {"status": WorkStatus.CANCELLED, "error": None})
    row.refresh_from_db()
    return row


@transaction.atomic
def work_requeue(kind: WorkKind, *, row: Work) -> Work:
    """Staff put a failed, cancelled or stuck row back on its queue as the same row: queued
    again, its error, start, finish and back-off cleared and its cancel flag dropped, then
    enqueued once that commits; the attempt count stays. Never a succeeded row, never over a
    status that changed meanwhile (Conflict)."""
    label = kind.label.capitalize()
    if row.status == WorkStatus.SUCCEEDED:
        raise Conflict(f"{label} {row.id} succeeded; retry it to make a new {kind.label} instead.")
    updated = kind.model.objects.filter(pk=row.pk, status=row.status).update(
        status=WorkStatus.QUEUED, error=None, finished_at=None, started_at=None, retry_at=None
    )
    if not updated:
        raise Conflict(f"{label} {row.id} changed status meanwhile; reload and try again.")
    row.refresh_from_db()
    clear_cancel(str(row.id))
    work_enqueue_on_commit(kind, row)
    return row


def _announce(kind: WorkKind, row_id, webhook_event: str | None, data: dict[str, Any]) -> None:
    """Publish after commit: whoever reacts to the event must find the row already updated."""

    def publish() -> None:
        publish_event(str(row_id), "status", data)
        kind.announced(str(row_id), webhook_event, data)

    transaction.on_commit(publish)
