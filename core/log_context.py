"""The job a log line belongs to: job id, user and queue, set while a job runs.

The fields live in a ``contextvars.ContextVar``: they follow the code that runs the job (and
any asyncio task it starts) but never leak into other threads, such as the worker's heartbeat.
``illuplatform.logging_config`` puts them on every record; no Django imports here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

JOB_FIELDS = ("job_id", "user", "queue")

_job_context: ContextVar[dict[str, str] | None] = ContextVar("illu_job_log_context", default=None)


@contextmanager
def job_log_context(job_id: str, user: str, queue: str) -> Iterator[None]:
    """Tag every log line emitted inside the block with the job's id, user and queue."""
    token = _job_context.set({"job_id": str(job_id), "user": str(user), "queue": str(queue)})
    try:
        yield
    finally:
        _job_context.reset(token)


def current_job_context() -> dict[str, str]:
    return dict(_job_context.get() or {})
