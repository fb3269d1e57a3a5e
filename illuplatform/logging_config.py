"""Structured logs: one JSON object per line (human-readable text when DEBUG), with the job id,
user and queue on every line logged while a job runs.

The job fields come from ``core.log_context`` (a ContextVar set while a job runs).
No Django imports: settings import this module to build ``LOGGING``.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime

from core.log_context import JOB_FIELDS, current_job_context

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is kept.
_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()
    | {"message", "asctime", "taskName", *JOB_FIELDS}
)


class JobContextFilter(logging.Filter):
    """Copy the current job fields onto the record (None outside a job), for any formatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = current_job_context()
        for field in JOB_FIELDS:
            # An explicit extra={"job_id": ...} wins over the context.
            if getattr(record, field, None) is None:
                setattr(record, field, context.get(field))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, job fields, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        for field in JOB_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    """Human-readable lines for development; job fields appended in brackets when set."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        tags = [f"{f}={getattr(record, f)}" for f in JOB_FIELDS if getattr(record, f, None)]
        if not tags:
            return line
        head, sep, tail = line.partition("\n")  # keep tracebacks below the tagged first line
        return f"{head} [{' '.join(tags)}]{sep}{tail}"


def log_format_for(*, debug: bool, override: str | None) -> str:
    """``LOG_FORMAT`` (json|plain) when given, else plain under DEBUG and JSON otherwise."""
    if override:
        value = override.strip().lower()
        if value not in {"json", "plain"}:
            raise ValueError(f"LOG_FORMAT must be 'json' or 'plain', not {override!r}")
        return value
    return "plain" if debug else "json"


def build_logging(*, log_format: str, level: str = "INFO") -> dict:
    """The ``LOGGING`` dict: every logger through one console handler with the job filter."""
    formatter = (
        {"()": "illuplatform.logging_config.JsonFormatter"}
        if log_format == "json"
        else {"()": "illuplatform.logging_config.PlainFormatter"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"job_context": {"()": "illuplatform.logging_config.JobContextFilter"}},
        "formatters": {log_format: formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["job_context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # uvicorn installs its own handlers unless told otherwise; route it through ours.
            "uvicorn": {"handlers": ["console"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["console"], "level": level, "propagate": False},
        },
    }
