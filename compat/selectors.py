"""Reads of the compatibility APIs: a caller's jobs as these APIs show them, and their
AUTOMATIC1111 options. Only the caller's own jobs are ever found."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import User

from .models import A1111Options
from .platform import ACTIVE_STATUSES, GenerationJob, WorkStatus, jobs_visible_to


def jobs_in_order(*, user: User, job_ids: list[str]) -> list[GenerationJob]:
    """The caller's jobs with these ids, with their images, in the order given."""
    jobs = {str(job.id): job for job in jobs_visible_to(user=user).filter(pk__in=job_ids)}
    return [jobs[job_id] for job_id in job_ids if job_id in jobs]


def running_job_of(*, user: User) -> GenerationJob | None:
    """The caller's most recently started running job (any source), or None."""
    return (
        jobs_visible_to(user=user)
        .filter(status=WorkStatus.RUNNING)
        .order_by("-started_at", "-created_at")
        .first()
    )


def unfinished_jobs_of(*, user: User, source: str | None = None) -> QuerySet[GenerationJob]:
    """The caller's queued and running jobs, of one source when given."""
    jobs = jobs_visible_to(user=user).filter(status__in=ACTIVE_STATUSES)
    return jobs.filter(source=source) if source else jobs


def a1111_checkpoint_of(*, user: User) -> str:
    """The model name the caller set with ``POST /sdapi/v1/options``; empty: the base model."""
    options = A1111Options.objects.filter(user=user).first()
    return options.sd_model_checkpoint if options else ""
