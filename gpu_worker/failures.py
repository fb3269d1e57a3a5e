"""One table from what a run raised to what becomes of its row, for every path that runs
work on a worker: a solo job, a batch pass, the storage stage and a training.

    the time limit (RQ's JobTimeoutException, also wrapped)  fail "timeout"
    a cancel (the flag or a deadline, seen at a step)        end cancelled
    a pause (a training gave way to waiting image jobs)      back to queued at once, the
                                                             attempt given back, "paused"
    Redis lost under the run (progress, cancel checks)       retry later "queue_unavailable"
    storage failed (S3 down)                                 retry later "storage_error"
    an engine error (bad spec, model missing, no memory)     fail with its code
    anything else: a bug, logged with its traceback          fail "internal"

Retries go through the lifecycle's back-off (``work_schedule_retry``): failed once the
attempts are spent. What a kind does before the table (a job retries out of memory once
with the low-memory profile; a batch splits) is the caller's."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.timeouts import JobTimeoutException

from work.kinds import WorkKind
from work.lifecycle import work_end_cancelled, work_fail, work_put_back, work_schedule_retry
from work.models import WorkStatus

from .engine.errors import EngineError, GenerationCancelled
from .engine.training.trainer import TrainingCancelled, TrainingPaused

logger = logging.getLogger(__name__)

# What an error says when the worker failed the row for a bug: the traceback is in the logs.
UNEXPECTED_ERROR_MESSAGE = (
    "The worker hit an unexpected error; the team has the details in the logs."
)
# What redis-py raises when Redis goes away under a running job (progress, cancel checks).
REDIS_LOST = (RedisConnectionError, RedisTimeoutError)


class StorageError(Exception):
    """Storing a run's files failed (the storage service is down or refused them)."""

    code = "storage_error"


class Outcome(enum.Enum):
    RETRY = "retry"  # back to queued after a back-off
    PAUSE = "pause"  # back to queued at once, to resume where it stopped
    FAIL = "fail"
    CANCEL = "cancel"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    code: str = ""
    message: str = ""


def verdict_for(exc: BaseException, kind: WorkKind) -> Verdict:
    """What becomes of a row of ``kind`` whose run raised ``exc`` (the table above)."""
    if raised_by(exc, JobTimeoutException):
        return Verdict(Outcome.FAIL, "timeout", kind.timeout_message())
    if isinstance(exc, GenerationCancelled | TrainingCancelled):
        return Verdict(Outcome.CANCEL, message=str(exc))
    if isinstance(exc, TrainingPaused):
        message = (
            f"Paused at step {exc.step} of {exc.total} so that waiting image jobs run first; "
            "it resumes from that step once none waits."
        )
        return Verdict(Outcome.PAUSE, exc.code, message)
    if isinstance(exc, REDIS_LOST):
        message = f"The job queue (Redis) stopped answering while the {kind.label} ran."
        return Verdict(Outcome.RETRY, "queue_unavailable", message)
    if isinstance(exc, StorageError):
        return Verdict(Outcome.RETRY, exc.code, str(exc))
    if isinstance(exc, EngineError):
        return Verdict(Outcome.FAIL, exc.code, str(exc))
    return Verdict(Outcome.FAIL, "internal", UNEXPECTED_ERROR_MESSAGE)


def settle(
    kind: WorkKind, row_id: str, exc: BaseException, changes: dict[str, Any] | None = None
) -> dict:
    """Apply the verdict on ``exc`` to the row through the lifecycle, with ``changes`` (a
    job's timings) when it ends; log it; return what RQ reports for the row."""
    verdict = verdict_for(exc, kind)
    if verdict.outcome is Outcome.CANCEL:
        logger.info("%s %s cancelled: %s", kind.label, row_id, verdict.message)
        work_end_cancelled(kind, row_id=row_id, changes=changes)
        return {"status": WorkStatus.CANCELLED}
    if verdict.outcome is Outcome.PAUSE:
        logger.info("%s %s paused: %s", kind.label, row_id, verdict.message)
        return _pause(kind, row_id, exc, verdict)
    if verdict.outcome is Outcome.RETRY:
        logger.warning("%s %s will be retried: %s", kind.label, row_id, exc)
        status = work_schedule_retry(
            kind, row_id=row_id, code=verdict.code, message=verdict.message
        )
        return {"status": status}
    if verdict.code == "internal":
        logger.error("%s %s failed unexpectedly", kind.label, row_id, exc_info=exc)
    else:
        logger.warning("%s %s failed: %s", kind.label, row_id, verdict.message)
    work_fail(kind, row_id=row_id, code=verdict.code, message=verdict.message, changes=changes)
    return {"status": WorkStatus.FAILED}


def _pause(kind: WorkKind, row_id: str, exc: TrainingPaused, verdict: Verdict) -> dict:
    """Back on the queue through the lifecycle, not failed and the attempt not counted; the
    row's error and its status event say it is paused, and where. Enqueued once RQ is done
    with the current job (``owed_entries``)."""
    from .owed_entries import owe_entry

    reason = {"code": verdict.code, "message": verdict.message}
    put_back = work_put_back(
        kind,
        row_id=row_id,
        changes={"error": reason},
        count_attempt=False,
        enqueue=False,
        announce={"paused": True, "step": exc.step, "total": exc.total, "error": reason},
    )
    if put_back:
        owe_entry(kind, row_id)
    return {"status": WorkStatus.QUEUED if put_back else "gone", "paused_at_step": exc.step}


def raised_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is ``exc`` or anywhere in the chain of causes behind it."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False
