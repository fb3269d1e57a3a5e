"""Where a row stands, by one rule for every kind, every reader (API, pages, the event
stream):

- succeeded: every step done;
- running: what its worker reports live (in Redis), the live-only fields (a preview) too;
- failed or cancelled: the last step its worker reported, where it stopped;
- otherwise (queued, or no report, or Redis down): the row's own account (step 0, or a
  training's last checkpoint).
"""

from __future__ import annotations

from typing import Any

from .kinds import WorkKind
from .models import Work, WorkStatus
from .redis_channel import read_progress


def work_progress(kind: WorkKind, row: Work) -> dict[str, Any]:
    """The row's progress: ``step``, ``total``, ``fraction`` and the kind's fields."""
    return reported_progress(kind, row) or _from_row(kind, row, kind.resting_step(row))


def reported_progress(kind: WorkKind, row: Work) -> dict[str, Any] | None:
    """The progress a finished row or its worker reported; None while nothing was (a queued
    row, whatever an earlier attempt reported, stands at its own account)."""
    if row.status == WorkStatus.SUCCEEDED:
        return {**_from_row(kind, row, kind.total_steps(row)), "fraction": 1.0}
    if row.status == WorkStatus.QUEUED:
        return None
    live = read_progress(str(row.id))
    if not live or "step" not in live:
        return None
    fields = kind.progress_fields
    if row.status == WorkStatus.RUNNING:
        fields += kind.live_only_fields
    return {key: live[key] for key in fields if key in live}


def _from_row(kind: WorkKind, row: Work, step: int) -> dict[str, Any]:
    total = kind.total_steps(row)
    fraction = round(step / total, 4) if total else 0.0
    return {"step": step, "total": total, "fraction": fraction, **kind.progress_extra(row)}


def percent(progress: dict[str, Any]) -> int:
    """The progress in whole percent (for a page's progress bar)."""
    return round(float(progress.get("fraction") or 0.0) * 100)
