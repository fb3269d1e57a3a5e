"""Reads of jobs, generated images and uploads, as each user may see them: another user's
object simply does not exist for them."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, Q, QuerySet

from accounts.models import User
from work.models import FINISHED_STATUSES

from .models import GeneratedImage, GenerationJob, Upload

JOB_ORDERINGS = ("created_at", "-created_at", "finished_at", "-finished_at")
IMAGE_ORDERINGS = {
    "created_at": F("created_at").asc(),
    "-created_at": F("created_at").desc(),
    "consistency_score": F("consistency_score").asc(nulls_last=True),
    "-consistency_score": F("consistency_score").desc(nulls_last=True),
}


def jobs_visible_to(*, user: User) -> QuerySet[GenerationJob]:
    """A user's own jobs, with their images."""
    return GenerationJob.objects.filter(owner=user).prefetch_related("images")


def job_list(*, user: User, filters: dict) -> QuerySet[GenerationJob]:
    """A user's jobs filtered by ``status``, ``kind``, ``source`` and ``character`` (each
    optional) in ``ordering`` (one of JOB_ORDERINGS; newest first by default)."""
    jobs = jobs_visible_to(user=user)
    for name in ("status", "kind", "source"):
        if filters.get(name):
            jobs = jobs.filter(**{name: filters[name]})
    if filters.get("character"):
        jobs = jobs.filter(character_id=filters["character"])
    return jobs.order_by(filters.get("ordering") or "-created_at")


def jobs_finished_before(*, cutoff: datetime) -> QuerySet[GenerationJob]:
    """Every user's jobs that ended (succeeded, failed, cancelled) before ``cutoff``; queued
    and running ones never. A row without finished_at (legacy) counts from its creation."""
    ended_before = Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, created_at__lt=cutoff)
    return GenerationJob.objects.filter(ended_before, status__in=FINISHED_STATUSES)


def images_visible_to(*, user: User) -> QuerySet[GeneratedImage]:
    """The images of a user's own jobs."""
    return GeneratedImage.objects.filter(job__owner=user)


def image_list(*, user: User, filters: dict) -> QuerySet[GeneratedImage]:
    """A user's images filtered by ``job``, ``character``, ``kind`` and ``source`` (the
    job's), ``accepted`` and ``review_status`` (each optional), in ``ordering`` (a key of
    IMAGE_ORDERINGS; newest first by default), ties broken by id."""
    images = images_visible_to(user=user).select_related("job")
    if filters.get("job"):
        images = images.filter(job_id=filters["job"])
    if filters.get("character"):
        images = images.filter(job__character_id=filters["character"])
    if filters.get("kind"):
        images = images.filter(job__kind=filters["kind"])
    if filters.get("source"):
        images = images.filter(job__source=filters["source"])
    if filters.get("accepted") is not None:
        images = images.filter(accepted=filters["accepted"])
    if filters.get("review_status"):
        images = images.filter(review_status=filters["review_status"])
    ordering = IMAGE_ORDERINGS[filters.get("ordering") or "-created_at"]
    return images.order_by(ordering, "id")


def uploads_visible_to(*, user: User) -> QuerySet[Upload]:
    """A user's own uploads."""
    return Upload.objects.filter(owner=user)


def generated_names_held(names: list[str]) -> set[str]:
    """Which of these stored names (under ``generated/``) a row holds: an image's PNG or
    thumbnail, or a job's conditioning image (``generated/<job id>/conditioning/...``)."""
    import uuid

    held = set(GeneratedImage.objects.filter(file__in=names).values_list("file", flat=True)) | set(
        GeneratedImage.objects.filter(thumbnail__in=names).values_list("thumbnail", flat=True)
    )
    asked = set(names)
    job_ids = set()
    for name in names:
        parts = name.split("/")
        if len(parts) > 3 and parts[2] == "conditioning" and name not in held:
            try:
                job_ids.add(uuid.UUID(parts[1]))
            except ValueError:
                continue
    for records in GenerationJob.objects.filter(pk__in=job_ids).values_list(
        "conditioning", flat=True
    ):
        held |= {item.get("key") for item in records or []} & asked
    return held


def upload_names_held(names: list[str]) -> set[str]:
    """Which of these stored names an upload row holds."""
    return set(Upload.objects.filter(image__in=names).values_list("image", flat=True))
