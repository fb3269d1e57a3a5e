"""Curators' review of generated images: approve/reject, feature, delete; in bulk."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from .models import GeneratedImage, ReviewStatus


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
    from django.core.files.storage import default_storage

    rows = GeneratedImage.objects.filter(pk__in=_ids(images))
    names = [name for pair in rows.values_list("file", "thumbnail") for name in pair if name]
    deleted, _ = rows.delete()

    def delete_files() -> None:
        for name in names:
            default_storage.delete(name)

    transaction.on_commit(delete_files)
    return deleted
