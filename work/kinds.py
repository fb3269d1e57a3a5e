"""What the one lifecycle needs to know about a kind of background work.

A new kind (a book run, an export, a model fetch) is a subclass of ``work.models.Work`` plus a
``WorkKind`` that names its row model, queue and RQ entry point and overrides the hooks where
the kind differs. Every function of ``work.lifecycle``, ``work.reconcile``, ``work.progress``
and ``work.event_stream`` takes the kind as its first argument; none is ever copied into a kind."""

from __future__ import annotations

from typing import Any

from .models import Work
from .workers import KEY_PREFIX


class WorkKind:
    model: type[Work]
    label = "job"  # how messages name a row: "Job <id> already ended ..."
    rq_function = ""  # the dotted path RQ calls with the row id
    retry_note = "Retrying in {delay} s."  # after a transient failure, in the row's error
    # The live progress a worker reports, as the API shows it; the live-only fields (a
    # preview, say) only while the row runs.
    progress_fields: tuple[str, ...] = ("step", "total", "fraction")
    live_only_fields: tuple[str, ...] = ()
    # Where its workers' heartbeats are (``work.heartbeat``): the reconciler's "alive".
    heartbeat_prefix = KEY_PREFIX

    # --- the queue
    def queue_name(self, row: Work) -> str:
        raise NotImplementedError

    def time_limit_s(self) -> int:
        """RQ's job timeout for a row of this kind."""
        raise NotImplementedError

    def rq_description(self, row: Work) -> str:
        return f"{self.label} {row.id}"

    def timeout_message(self) -> str:
        """The error of a row that ran out of time."""
        return f"The {self.label} ran longer than the {self.time_limit_s()} s limit."

    # --- the lifecycle's hooks (inside its transaction unless said otherwise)
    def finish_changes(self, row: Work, status: str, changes: dict[str, Any]) -> dict[str, Any]:
        """More fields to write when a running row ends with ``status`` (``changes`` are the
        ones about to be written); may schedule work on commit. None by default."""
        return {}

    def after_cancel_queued(self, row: Work) -> None:
        """A queued row was cancelled (it never starts)."""

    def announced(self, row_id: str, webhook_event: str | None, data: dict[str, Any]) -> None:
        """After commit, once the status event is published: notify whoever else listens
        (generation sends webhooks). ``webhook_event`` is "start", "completed" or None."""

    # --- the reconciler's hooks
    def lost_message(self, row: Work) -> str:
        return f"The worker running this {self.label} stopped before finishing it."

    def after_lost(self, row: Work) -> None:
        """A running row whose worker is gone was put back (or failed)."""

    # --- progress
    def total_steps(self, row: Work) -> int:
        return int(getattr(row, "params", {}).get("steps") or 0)

    def resting_step(self, row: Work) -> int:
        """The step a row stands at by its own account (no live report): 0 by default."""
        return 0

    def progress_extra(self, row: Work) -> dict[str, Any]:
        """More progress fields from the row itself (a training's last loss, say)."""
        return {}
