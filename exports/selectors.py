"""Reads on exports."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import BookExport


def exports_of_book(*, book) -> QuerySet[BookExport]:
    """A book's exports, newest first (the book is already its owner's: its exports are)."""
    return BookExport.objects.filter(book=book).order_by("-created_at")


def upscale_job_ids(book) -> QuerySet:
    """The ids of the upscale jobs the book's exports made (counted in the book's cost)."""
    return BookExport.upscale_jobs.through.objects.filter(bookexport__book=book).values(
        "generationjob_id"
    )
