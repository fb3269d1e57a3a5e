"""Writes on jobs. Every status change is a conditional update, so a late callback can never
overwrite a job that already ended; every change is published for SSE and webhooks."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, IntegerField, Q, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from accounts.models import User
from accounts.selectors import quota_for
from core.errors import Conflict, DomainError

from .edit_params import DERIVED_PARAMS as EDIT_DERIVED_PARAMS
from .models import (
    EDIT_KINDS,
    FINISHED_STATUSES,
    GeneratedImage,
    GenerationJob,
    JobPriority,
    JobSource,
    JobStatus,
)
from .params import resolve_params
from .queueing import (
    QUEUE_BY_PRIORITY,
    enqueue_generation_job,
    enqueue_or_leave_to_reconciler,
    get_queue,
    get_redis,
)
from .signals_redis import cancel_key, publish_event, request_cancel
from .webhooks import webhook_emit

ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
IDEMPOTENCY_KEY_MAX_LENGTH = GenerationJob._meta.get_field("idempotency_key").max_length


class QuotaExceeded(DomainError):
    status_code = 429
    code = "quota_exceeded"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def job_create(
    *,
    owner: User,
    kind: str,
    params: dict[str, Any],
    priority: str = JobPriority.NORMAL,
    idempotency_key: str | None = None,
    cancel_after: int | None = None,
    webhook: str = "",
    webhook_events: list[str] | None = None,
    source: str = JobSource.API,
    source_user: str = "",
) -> tuple[GenerationJob, bool]:
    """Create and enqueue a job. Returns (job, created): with an Idempotency-Key already used
    by this owner within the window, the first job comes back and nothing is created.
    ``source`` says which API the request came through (a JobSource), ``source_user`` the end
    user a compatibility client named."""
    if idempotency_key:
        existing = _job_for_idempotency_key(owner, idempotency_key)
        if existing is not None:
            return existing, False
    resolved = resolve_params(owner, kind, params)
    try:
        with transaction.atomic():
            _check_quota(owner, resolved["num_images"])
            if idempotency_key:
                _release_expired_idempotency_key(owner, idempotency_key)
            now = timezone.now()
            job = GenerationJob.objects.create(
                owner=owner,
                kind=kind,
                priority=priority,
                params=resolved,
                character_id=resolved.get("character"),
                avatar_id=resolved.get("avatar"),
                idempotency_key=idempotency_key or None,
                cancel_at=now + timedelta(seconds=cancel_after) if cancel_after else None,
                webhook_url=webhook,
                webhook_events=list(webhook_events or []),
                source=source,
                source_user=source_user[:200],
            )
            # Only a committed row is enqueued: a worker must never see an id it cannot load.
            transaction.on_commit(lambda: enqueue_or_leave_to_reconciler(job))
    except IntegrityError:
        # A concurrent request with the same key won the race: return its job.
        existing = idempotency_key and _job_for_idempotency_key(owner, idempotency_key)
        if existing:
            return existing, False
        raise
    return job, True


def job_create_from_request(
    *,
    owner: User,
    data: dict[str, Any],
    idempotency_key: str | None = None,
    source: str = JobSource.API,
    source_user: str = "",
) -> tuple[GenerationJob, bool]:
    """Create a job from a validated create request (JobCreateSerializer's data, from the API,
    the /create/ page or a compatibility API): its job-level fields go to ``job_create``, the
    rest are the params. ``idempotency_key`` is the raw Idempotency-Key header: trimmed, cut to
    what the row keeps, and blank means none."""
    params = dict(data)
    key = (idempotency_key or "").strip()[:IDEMPOTENCY_KEY_MAX_LENGTH] or None
    return job_create(
        owner=owner,
        kind=params.pop("kind"),
        priority=params.pop("priority", JobPriority.NORMAL),
        idempotency_key=key,
        cancel_after=params.pop("cancel_after", None),
        webhook=params.pop("webhook", ""),
        webhook_events=params.pop("webhook_events", None),
        params=params,
        source=source,
        source_user=source_user,
    )


def _idempotency_window_start() -> datetime:
    return timezone.now() - timedelta(hours=settings.ILLU_IDEMPOTENCY_WINDOW_HOURS)


def _job_for_idempotency_key(owner: User, key: str) -> GenerationJob | None:
    return GenerationJob.objects.filter(
        owner=owner, idempotency_key=key, created_at__gte=_idempotency_window_start()
    ).first()


def _release_expired_idempotency_key(owner: User, key: str) -> None:
    GenerationJob.objects.filter(
        owner=owner, idempotency_key=key, created_at__lt=_idempotency_window_start()
    ).update(idempotency_key=None)


def _check_quota(owner: User, num_images: int) -> None:
    """Checked under a lock on the owner's row, so concurrent creates cannot both pass."""
    User.objects.select_for_update().filter(pk=owner.pk).first()
    quota = quota_for(owner)
    active = GenerationJob.objects.filter(owner=owner, status__in=ACTIVE_STATUSES).count()
    if active >= quota.max_concurrent_jobs:
        raise QuotaExceeded(
            f"You have {active} unfinished jobs; the limit is {quota.max_concurrent_jobs}. "
            "Wait for one to finish or cancel one.",
            retry_after=10,
        )
    day_start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    used = _images_requested_since(owner, day_start)
    if used + num_images > quota.images_per_day:
        tomorrow = day_start + timedelta(days=1)
        raise QuotaExceeded(
            f"This job asks for {num_images} images; {used} of your {quota.images_per_day} "
            "images for today are used. The count resets at midnight UTC.",
            retry_after=math.ceil((tomorrow - timezone.now()).total_seconds()),
        )


def _images_requested_since(owner: User, since: datetime) -> int:
    """Images asked for since ``since`` (failed jobs and never-started cancellations are
    given back), summed by the database from each job's params."""
    jobs = GenerationJob.objects.filter(owner=owner, created_at__gte=since).exclude(
        Q(status=JobStatus.FAILED) | Q(status=JobStatus.CANCELLED, started_at__isnull=True)
    )
    requested = Cast(KT("params__num_images"), IntegerField())
    return jobs.aggregate(total=Coalesce(Sum(requested), 0))["total"]


def job_mark_running(*, job_id: str, worker_name: str) -> bool:
    """queued -> running; False if the job was cancelled or taken meanwhile."""
    updated = GenerationJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING,
        started_at=timezone.now(),
        worker_name=worker_name,
        attempts=F("attempts") + 1,
        retry_at=None,
    )
    if updated:
        _announce(job_id, "start", {"status": JobStatus.RUNNING})
    return updated == 1


def jobs_mark_running(
    *, job_ids: list[str], worker_name: str, started_at: datetime | None = None
) -> list[str]:
    """queued -> running for a batch, all with one ``started_at``; returns the ids this
    worker took, in the given order. Each row is a compare-and-set on its status, so two
    workers never both take a job; on PostgreSQL rows another worker is claiming right now
    are skipped (``FOR UPDATE SKIP LOCKED``) instead of waited for."""
    from django.db import connection

    started_at = started_at or timezone.now()
    fields = {
        "status": JobStatus.RUNNING,
        "started_at": started_at,
        "worker_name": worker_name,
        "attempts": F("attempts") + 1,
        "retry_at": None,
    }
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            free = set(
                GenerationJob.objects.select_for_update(skip_locked=True)
                .filter(pk__in=job_ids, status=JobStatus.QUEUED)
                .values_list("pk", flat=True)
            )
            GenerationJob.objects.filter(pk__in=free).update(**fields)
        claimed = [job_id for job_id in job_ids if _uuid(job_id) in free]
    else:
        # SQLite serializes writers: one conditional update per row is the atomic claim.
        claimed = [
            job_id
            for job_id in job_ids
            if GenerationJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(**fields)
        ]
    for job_id in claimed:
        _announce(job_id, "start", {"status": JobStatus.RUNNING})
    return claimed


def _uuid(value):
    import uuid

    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def job_mark_succeeded(
    *,
    job_id: str,
    timings: dict[str, int],
    counts: dict | None = None,
    finished_at: datetime | None = None,
):
    return _finish(
        job_id,
        JobStatus.SUCCEEDED,
        timings=timings,
        error=None,
        counts=counts,
        finished_at=finished_at,
    )


def job_mark_failed(
    *, job_id: str, code: str, message: str, timings: dict[str, int] | None = None
) -> bool:
    error = {"code": code, "message": message}
    return _finish(job_id, JobStatus.FAILED, timings=timings or {}, error=error)


def job_mark_cancelled(*, job_id: str, timings: dict[str, int] | None = None) -> bool:
    """running -> cancelled, by the worker once the step callback saw the cancel flag."""
    return _finish(job_id, JobStatus.CANCELLED, timings=timings or {}, error=None)


def _finish(
    job_id: str,
    status: str,
    *,
    timings: dict,
    error: dict | None,
    counts: dict | None = None,
    finished_at: datetime | None = None,
) -> bool:
    now = finished_at or timezone.now()
    job = GenerationJob.objects.filter(pk=job_id).only("created_at").first()
    if job is None:
        return False
    timings = {**timings, "total_ms": _ms_between(job.created_at, now)}
    updated = GenerationJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
        status=status, finished_at=now, timings=timings, error=error, **(counts or {})
    )
    if updated:
        _announce(job_id, "completed", {"status": status, "error": error})
    return updated == 1


def job_schedule_retry(*, job_id: str, code: str, message: str) -> str:
    """Back-off after a transient failure of the same job (storage down, its worker gone).

    Used by the worker (a storage error) and the reconciler (a running job whose worker died).
    Changes the row: back to ``queued`` with ``retry_at`` = now + ILLU_RETRY_BACKOFF_SECONDS
    doubled per attempt so far, the error kept as the reason; once ILLU_JOB_MAX_ATTEMPTS is
    reached, ``failed`` instead. It never enqueues (the reconciler does once ``retry_at`` has
    passed), never creates a job and never touches a job that changed status meanwhile.
    Returns the status the job has afterwards ("missing" when there is no such row)."""
    job = GenerationJob.objects.filter(pk=job_id).first()
    if job is None:
        return "missing"
    if job.attempts >= settings.ILLU_JOB_MAX_ATTEMPTS:
        job_mark_failed(
            job_id=job_id, code=code, message=f"{message} (gave up after {job.attempts} attempts)"
        )
        return JobStatus.FAILED
    delay = settings.ILLU_RETRY_BACKOFF_SECONDS * 2 ** max(0, job.attempts - 1)
    updated = GenerationJob.objects.filter(pk=job_id, status=job.status).update(
        status=JobStatus.QUEUED,
        started_at=None,
        worker_name="",
        retry_at=timezone.now() + timedelta(seconds=delay),
        error={"code": code, "message": f"{message} Retrying in {delay} s."},
    )
    if updated:
        publish_event(str(job_id), "status", {"status": JobStatus.QUEUED, "retry_in_s": delay})
    return JobStatus.QUEUED if updated else job.status


def _announce(job_id: str, webhook_event: str, data: dict) -> None:
    """Publish after commit: whoever reacts to the event must find the row already updated."""

    def publish() -> None:
        publish_event(str(job_id), "status", data)
        job = GenerationJob.objects.filter(pk=job_id).first()
        if job is not None and job.webhook_url:
            webhook_emit(job, webhook_event, data)

    transaction.on_commit(publish)


def job_cancel(*, job: GenerationJob) -> GenerationJob:
    """Queued jobs end at once and never start; running ones stop within one step."""
    if job.status in FINISHED_STATUSES:
        raise Conflict(f"Job {job.id} already ended with status {job.status}; nothing to cancel.")
    request_cancel(str(job.id))
    if GenerationJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now()
    ):
        get_queue(QUEUE_BY_PRIORITY[job.priority]).remove(str(job.id))
        _announce(str(job.id), "completed", {"status": JobStatus.CANCELLED, "error": None})
    job.refresh_from_db()
    return job


@transaction.atomic
def job_requeue(*, job: GenerationJob) -> GenerationJob:
    """Staff put a failed, cancelled or stuck job back on its queue as the same job.

    Used by the admin's "requeue" action. Changes the row: ``queued`` again, with its error,
    start, finish and back-off cleared and its cancel flag dropped, then enqueued once that
    commits; params, seeds and the attempt count stay. It never creates a job, never requeues
    a succeeded one (that is ``job_rerun``) and never overwrites a status that changed
    meanwhile (Conflict)."""
    if job.status == JobStatus.SUCCEEDED:
        raise Conflict(f"Job {job.id} succeeded; retry it to make a new job instead.")
    updated = GenerationJob.objects.filter(pk=job.pk, status=job.status).update(
        status=JobStatus.QUEUED, error=None, finished_at=None, started_at=None, retry_at=None
    )
    if not updated:
        raise Conflict(f"Job {job.id} changed status meanwhile; reload and try again.")
    job.refresh_from_db()
    get_redis().delete(cancel_key(str(job.id)))
    transaction.on_commit(lambda: enqueue_generation_job(job))
    return job


_NOT_RETRIED_PARAMS = {"seeds", "model", "trigger_words", "style_template", "reference_images"}


def job_rerun(*, job: GenerationJob) -> GenerationJob:
    """A new job with the same request as ``job``: new seeds unless the seed was fixed.

    Used by POST /api/v1/jobs/{id}/retry/ and the image page's "generate again". Creates a
    job (checked and counted by ``job_create`` like any other: quota, LoRAs still enabled)
    from the request the user gave, rebuilt from the resolved params. It never changes
    ``job``, whatever its status, and never reuses its id or images."""
    params = {
        key: value
        for key, value in job.params.items()
        if key not in _NOT_RETRIED_PARAMS and value is not None
    }
    params["loras"] = [{"lora": item["slug"], "weight": item["weight"]} for item in params["loras"]]
    if job.kind in EDIT_KINDS:
        for key in EDIT_DERIVED_PARAMS | {"repair_size"}:
            params.pop(key, None)
    if job.kind == "character" or (job.kind in EDIT_KINDS and "character" in params):
        # The character's own LoRAs are added back by resolution; keep only explicit ones.
        params["loras"] = []
    if "control" in params:
        params["control"] = {
            k: params["control"][k] for k in ("type", "image", "scale", "preprocess")
        }
    if "consistency" in params:
        consistency = params.pop("consistency")
        if consistency.get("filter"):
            params["consistency"] = {
                k: consistency[k]
                for k in ("threshold", "min_accepted", "max_attempts", "repair")
                if k in consistency
            }
    params.pop("consistency_threshold", None)
    new_job, _ = job_create(
        owner=job.owner,
        kind=job.kind,
        params=params,
        priority=job.priority,
        webhook=job.webhook_url,
        webhook_events=job.webhook_events,
    )
    return new_job


def job_delete(*, job: GenerationJob) -> None:
    """Delete a job, its images and their stored files; a running job is cancelled first."""
    if job.status in ACTIVE_STATUSES:
        job_cancel(job=job)
    names = _stored_files(GeneratedImage.objects.filter(job=job))
    names += [item["key"] for item in job.conditioning or [] if item.get("key")]
    job.delete()
    _delete_files_on_commit(names)


def jobs_bulk_delete(
    *,
    owner: User,
    ids: list[str | UUID] | None = None,
    status: str | None = None,
    before: datetime | None = None,
) -> int:
    """Delete the owner's jobs that match every criterion given (``ids``, ``status``,
    created ``before``); an empty or missing criterion does not narrow. Returns the count."""
    jobs = GenerationJob.objects.filter(owner=owner)
    if ids:
        jobs = jobs.filter(pk__in=ids)
    if status:
        jobs = jobs.filter(status=status)
    if before:
        jobs = jobs.filter(created_at__lt=before)
    count = 0
    for job in jobs:
        job_delete(job=job)
        count += 1
    return count


def job_leftover_files_delete(*, job_id: str) -> int:
    """Delete objects stored for a job that no row refers to: what a worker killed between
    upload and commit left behind. Returns how many were deleted."""
    from django.core.files.storage import default_storage

    job = GenerationJob.objects.filter(pk=job_id).first()
    if job is None:
        return 0
    kept = set(_stored_files(GeneratedImage.objects.filter(job=job)))
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


def _stored_files(images) -> list[str]:
    names = []
    for file_name, thumb_name in images.values_list("file", "thumbnail"):
        names += [name for name in (file_name, thumb_name) if name]
    return names


def _delete_files_on_commit(names: list[str]) -> None:
    from django.core.files.storage import default_storage

    def delete() -> None:
        for name in names:
            default_storage.delete(name)

    transaction.on_commit(delete)


def _ms_between(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds() * 1000)
