"""Generation jobs as a kind of background work: the hooks ``work``'s one lifecycle calls
(queues by priority, webhooks on start and completion, the total time, the files of a job
whose worker died), and the jobs' reconciler."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from work.kinds import WorkKind
from work.reconcile import ReconcileReport, reconcile_work

from .models import GeneratedImage, GenerationJob, JobPriority
from .signals import job_finished
from .webhooks import webhook_deliveries_enqueue_lost, webhook_emit

QUEUE_BY_PRIORITY = {
    JobPriority.HIGH: "gpu-high",
    JobPriority.NORMAL: "gpu",
    JobPriority.LOW: "gpu-low",
}
# A worker serves its queues in this order, so high priority always goes first.
QUEUE_NAMES = ("gpu-high", "gpu", "gpu-low")
RUN_JOB_FUNC = "gpu_worker.tasks.run_generation_job"


class JobWork(WorkKind):
    model = GenerationJob
    label = "job"
    rq_function = RUN_JOB_FUNC
    live_only_fields = ("preview", "preview_step")

    def queue_name(self, row: GenerationJob) -> str:
        return QUEUE_BY_PRIORITY[row.priority]

    def time_limit_s(self) -> int:
        return settings.ILLU_JOB_TIMEOUT

    def rq_description(self, row: GenerationJob) -> str:
        return f"{row.kind} job {row.id}"

    def timeout_message(self) -> str:
        return (
            f"The job ran longer than the {self.time_limit_s()} s limit; "
            "ask for fewer steps, images or pixels."
        )

    def finish_changes(self, row, status, changes) -> dict[str, Any]:
        # The total, from creation to the end, beside what the worker measured.
        total_ms = ms_between(row.created_at, changes["finished_at"])
        return {"timings": {**(changes.get("timings") or {}), "total_ms": total_ms}}

    def announced(self, row_id, webhook_event, data) -> None:
        if webhook_event is None:
            return
        if webhook_event == "completed":
            job_finished.send(sender=GenerationJob, job_id=row_id, status=data.get("status"))
        job = GenerationJob.objects.filter(pk=row_id).first()
        if job is not None and job.webhook_url:
            webhook_emit(job, webhook_event, data)

    def after_lost(self, row: GenerationJob) -> None:
        # Killed between upload and commit: its objects belong to no row; the rerun stores
        # its own, so the job never ends with two sets.
        job_leftover_files_delete(job_id=str(row.id))


JOBS = JobWork()


@dataclass
class JobReconcileReport(ReconcileReport):
    reenqueued_webhooks: list[str] = field(default_factory=list)


def reconcile_jobs(dry_run: bool = False) -> JobReconcileReport:
    """The reconciler for jobs (``work.reconcile``), then the webhook deliveries Redis lost."""
    report = reconcile_work(JOBS, dry_run=dry_run, report=JobReconcileReport())
    grace = timezone.now() - timedelta(seconds=settings.ILLU_RECONCILE_GRACE_SECONDS)
    report.reenqueued_webhooks = webhook_deliveries_enqueue_lost(older_than=grace, dry_run=dry_run)
    return report


def job_stored_files(images) -> list[str]:
    """The stored PNG and thumbnail of each image row."""
    names = []
    for file_name, thumb_name in images.values_list("file", "thumbnail"):
        names += [name for name in (file_name, thumb_name) if name]
    return names


def job_leftover_files_delete(*, job_id: str) -> int:
    """Delete objects stored for a job that no row refers to: what a worker killed between
    upload and commit left behind. Returns how many were deleted."""
    from django.core.files.storage import default_storage

    job = GenerationJob.objects.filter(pk=job_id).first()
    if job is None:
        return 0
    kept = set(job_stored_files(GeneratedImage.objects.filter(job=job)))
    kept |= {item["key"] for item in job.conditioning or [] if item.get("key")}
    deleted = 0
    for folder in (f"generated/{job_id}", f"generated/{job_id}/thumbs",
                   f"generated/{job_id}/conditioning"):  # fmt: skip
        try:
            _, files = default_storage.listdir(folder)
        except (FileNotFoundError, OSError):
            continue
        for name in files:
            key = f"{folder}/{name}"
            if key not in kept:
                default_storage.delete(key)
                deleted += 1
    return deleted


def ms_between(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds() * 1000)
