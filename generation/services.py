"""Writes on jobs that are generation's own: create (quotas, idempotency), rerun, delete. Status
changes (claim, finish, retry, cancel, requeue) are ``work.lifecycle``'s, with the hooks of
``generation.work_kind.JOBS``."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import IntegerField, Q, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from accounts.models import User
from accounts.selectors import quota_for
from core.errors import Forbidden, InvalidParams, QuotaExceeded
from core.stored_files import delete_files_on_commit
from work.lifecycle import work_cancel, work_enqueue_on_commit, work_requeue
from work.models import ACTIVE_STATUSES, WorkStatus

from .edit_params import DERIVED_PARAMS as EDIT_DERIVED_PARAMS
from .job_cost import UNIT as COST_UNIT
from .job_cost import images_drawn_at_most, job_cost
from .models import EDIT_KINDS, GeneratedImage, GenerationJob, JobKind, JobPriority, JobSource
from .params import resolve_params
from .work_kind import JOBS, job_stored_files

IDEMPOTENCY_KEY_MAX_LENGTH = GenerationJob._meta.get_field("idempotency_key").max_length


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
    requested_by: User | None = None,
) -> tuple[GenerationJob, bool]:
    """Create and enqueue a job. Returns (job, created): with an Idempotency-Key already used
    by this owner within the window, the first job comes back and nothing is created.
    ``source`` says which API the request came through (a JobSource), ``source_user`` the end
    user a compatibility client named.

    ``requested_by`` is who asks (a staff member acting for ``owner``; by default the owner):
    priority high is for staff and for owners whose quota allows it (else 403 naming
    ``priority``). The job's cost (``job_cost``) must be within the owner's per-job budget
    (else 400 naming the size, steps and images) and, with their unfinished jobs, within
    their queued budget (else 429), besides the concurrency and daily-image quotas."""
    if idempotency_key:
        existing = _job_for_idempotency_key(owner, idempotency_key)
        if existing is not None:
            return existing, False
    quota = quota_for(owner)
    if priority == JobPriority.HIGH and not may_ask_high_priority(owner, requested_by, quota):
        message = "Priority high is for staff and for accounts whose quota allows it."
        raise Forbidden(message, {"priority": [message]})
    resolved = resolve_params(owner, kind, params)
    cost = job_cost(resolved)
    _check_job_cost(resolved, cost, quota.max_job_cost)
    try:
        with transaction.atomic():
            _check_quota(owner, resolved["num_images"], cost)
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
            work_enqueue_on_commit(JOBS, job)
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
    requested_by: User | None = None,
) -> tuple[GenerationJob, bool]:
    """Create a job from a validated create request (JobCreateSerializer's data, from the API,
    the /create/ page or a compatibility API): its job-level fields go to ``job_create``, the
    rest are the params. ``idempotency_key`` is the raw Idempotency-Key header: trimmed, cut to
    what the row keeps, and blank means none. ``requested_by``: who asks, as for
    ``job_create``."""
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
        requested_by=requested_by,
    )


def may_ask_high_priority(owner: User, requested_by: User | None, quota=None) -> bool:
    """Staff may ask for priority high (for themselves or for whom they act), and owners
    whose quota allows it (``Quota.allow_high_priority``)."""
    if (requested_by or owner).is_staff:
        return True
    return (quota or quota_for(owner)).allow_high_priority


def _check_job_cost(resolved: dict[str, Any], cost: float, limit: int) -> None:
    """One job's cost within the owner's budget, else a 400 naming what makes it."""
    if cost <= limit:
        return
    images = images_drawn_at_most(resolved)
    message = (
        f"This job costs {cost:,.0f} {COST_UNIT} ({resolved['width']}x{resolved['height']} "
        f"pixels x {resolved['steps']} steps x {images} images); the limit is {limit:,} "
        f"{COST_UNIT} per job. Ask for a smaller size, fewer steps or fewer images."
    )
    names = ["width", "height", "steps", "num_images"]
    if images > int(resolved.get("num_images") or 1):
        names.append("consistency.max_attempts")
    raise InvalidParams(message, {name: [message] for name in names})


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


def _check_quota(owner: User, num_images: int, cost: float = 0.0) -> None:
    """Checked under a lock on the owner's row, so concurrent creates cannot both pass."""
    User.objects.select_for_update().filter(pk=owner.pk).first()
    quota = quota_for(owner)
    unfinished = list(
        GenerationJob.objects.filter(owner=owner, status__in=ACTIVE_STATUSES).values_list(
            "params", flat=True
        )
    )
    active = len(unfinished)
    if active >= quota.max_concurrent_jobs:
        raise QuotaExceeded(
            f"You have {active} unfinished jobs; the limit is {quota.max_concurrent_jobs}. "
            "Wait for one to finish or cancel one.",
            retry_after=10,
        )
    queued = sum(job_cost(params or {}) for params in unfinished)
    if queued + cost > quota.max_queued_cost:
        raise QuotaExceeded(
            f"Your unfinished jobs cost {queued:,.0f} {COST_UNIT} and this one {cost:,.0f}; "
            f"together they may cost at most {quota.max_queued_cost:,}. Wait for some to "
            "finish or cancel some.",
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
        Q(status=WorkStatus.FAILED) | Q(status=WorkStatus.CANCELLED, started_at__isnull=True)
    )
    requested = Cast(KT("params__num_images"), IntegerField())
    return jobs.aggregate(total=Coalesce(Sum(requested), 0))["total"]


def job_cancel(*, job: GenerationJob) -> GenerationJob:
    """Queued jobs end at once and never start; running ones stop within one step."""
    return work_cancel(JOBS, row=job)


def job_requeue(*, job: GenerationJob) -> GenerationJob:
    """Staff put a failed, cancelled or stuck job back on its queue as the same job (the
    admin's "requeue"); a succeeded one is retried as a new job instead (``job_rerun``)."""
    return work_requeue(JOBS, row=job)


_NOT_RETRIED_PARAMS = {"seeds", "model", "trigger_words", "style_template", "reference_images"}


def job_rerun(*, job: GenerationJob, requested_by: User | None = None) -> GenerationJob:
    """A new job with the same request as ``job``: new seeds unless the seed was fixed.

    Used by POST /api/v1/jobs/{id}/retry/ and the image page's "generate again". Creates a
    job (checked and counted by ``job_create`` like any other: quota, LoRAs still enabled)
    from the request the user gave, rebuilt from the resolved params. It never changes
    ``job``, whatever its status, and never reuses its id or images. Its priority stays,
    except that high becomes normal when ``requested_by`` (by default the owner) may no
    longer ask for high."""
    params = {
        key: value
        for key, value in job.params.items()
        if key not in _NOT_RETRIED_PARAMS and value is not None
    }
    params["loras"] = [{"lora": item["slug"], "weight": item["weight"]} for item in params["loras"]]
    if job.kind in EDIT_KINDS:
        for key in EDIT_DERIVED_PARAMS | {"repair_size"}:
            params.pop(key, None)
    if job.kind == JobKind.CHARACTER or (job.kind in EDIT_KINDS and "character" in params):
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
    priority = job.priority
    if priority == JobPriority.HIGH and not may_ask_high_priority(job.owner, requested_by):
        priority = JobPriority.NORMAL
    new_job, _ = job_create(
        owner=job.owner,
        kind=job.kind,
        params=params,
        priority=priority,
        webhook=job.webhook_url,
        webhook_events=job.webhook_events,
        requested_by=requested_by,
    )
    return new_job


def job_delete(*, job: GenerationJob) -> None:
    """Delete a job, its images and their stored files; a running job is cancelled first."""
    if job.status in ACTIVE_STATUSES:
        job_cancel(job=job)
    names = job_stored_files(GeneratedImage.objects.filter(job=job))
    names += [item["key"] for item in job.conditioning or [] if item.get("key")]
    job.delete()
    delete_files_on_commit(names)


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
