"""LoRA training runs as a kind of background work: the hooks ``work``'s one lifecycle calls
(the training queue, resuming from a checkpoint, dropping the checkpoint of a run that ends
without a LoRA), and the runs' reconciler."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from core.stored_files import delete_files_on_commit
from work.kinds import WorkKind
from work.models import WorkStatus
from work.reconcile import ReconcileReport, reconcile_work

from .models import TrainingRun

TRAINING_QUEUE = "training"
PAUSED_CODE = "paused"  # the error code of a run paused for image jobs (gpu_worker.failures)
RUN_TRAINING_FUNC = "gpu_worker.training_tasks.run_training_job"


class TrainingWork(WorkKind):
    model = TrainingRun
    label = "training"
    rq_function = RUN_TRAINING_FUNC
    retry_note = "Resuming in {delay} s."
    progress_fields = ("step", "total", "fraction", "loss", "eta_s", "paused")

    def queue_name(self, row: TrainingRun) -> str:
        return TRAINING_QUEUE

    def time_limit_s(self) -> int:
        return settings.ILLU_TRAINING_TIMEOUT

    def rq_description(self, row: TrainingRun) -> str:
        return f"training run {row.id}"

    def timeout_message(self) -> str:
        return (
            f"Training ran longer than the {self.time_limit_s()} s limit; "
            "ask for fewer steps or a lower resolution."
        )

    def finish_changes(self, row, status, changes) -> dict[str, Any]:
        if status == WorkStatus.FAILED:
            return {}  # kept: a requeued run resumes from it
        # Succeeded: the LoRA is registered; cancelled: no LoRA, and a checkpoint nearly is one.
        delete_files_on_commit([row.checkpoint_key])
        return {"checkpoint_key": ""}

    def after_cancel_queued(self, row: TrainingRun) -> None:
        delete_files_on_commit([row.checkpoint_key])

    def lost_message(self, row: TrainingRun) -> str:
        step = row.checkpoint_step
        return (
            f"The worker stopped at about step {step} or later; "
            f"training resumes from the checkpoint at step {step}."
        )

    def total_steps(self, row: TrainingRun) -> int:
        return row.total_steps

    def resting_step(self, row: TrainingRun) -> int:
        return row.checkpoint_step

    def progress_extra(self, row: TrainingRun) -> dict[str, Any]:
        last_loss = row.loss_history[-1] if row.loss_history else None
        eta_s = 0 if row.status == WorkStatus.SUCCEEDED else None
        return {"loss": last_loss, "eta_s": eta_s, "paused": training_paused(row)}


def training_paused(row: TrainingRun) -> bool:
    """Whether the run is waiting in the queue after giving way to image jobs (it resumes
    from its checkpoint); its ``error`` says where it paused."""
    return row.status == WorkStatus.QUEUED and (row.error or {}).get("code") == PAUSED_CODE


TRAININGS = TrainingWork()


def reconcile_trainings(dry_run: bool = False) -> ReconcileReport:
    """The reconciler for training runs (``work.reconcile``): a run whose worker died goes
    back to the queue and resumes from its last checkpoint on the next worker."""
    return reconcile_work(TRAININGS, dry_run=dry_run)
