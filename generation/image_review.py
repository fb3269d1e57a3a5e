"""Curators' review of generated images: approve/reject, feature, delete; in bulk."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from core.stored_files import delete_files_on_commit

from .models import GeneratedImage, ReviewStatus
from .work_kind import job_stored_files


def _ids(images: Iterable[GeneratedImage]) -> list:
    return [image.pk for image in images]


@transaction.atomic
def image_set_review(*, images: Iterable[GeneratedImage], status: str) -> int:
    """Set the review status of ``images``; returns how many rows actually changed."""
    if status not in ReviewStatus.values:
        raise ValueError(f"Unknown review status {status!r}; use one of {ReviewStatus.values}.")
    return (
        GeneratedImage.objects.filter(pk__in=_ids(images))
        .exclude(review_status=status)
        .update(review_status=status)
    )


@transaction.atomic
def image_set_featured(*, images: Iterable[GeneratedImage], featured: bool) -> int:
    """Feature or unfeature ``images``; returns how many rows actually changed."""
    return (
        GeneratedImage.objects.filter(pk__in=_ids(images))
        .exclude(featured=featured)
        .update(featured=featured)
    )


@transaction.atomic
def image_delete(*, images: Iterable[GeneratedImage]) -> int:
    """Delete image rows and, once that commits, their stored files (image and thumbnail)."""
    rows = GeneratedImage.objects.filter(pk__in=_ids(images))
    names = job_stored_files(rows)
    deleted, _ = rows.delete()
    delete_files_on_commit(names)
    return deleted
