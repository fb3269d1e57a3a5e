"""Reads on books: the owner's books and pages, a page's candidates, progress and cost."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet, Sum

from accounts.models import User
from generation.models import GeneratedImage, GenerationJob

from .models import Book


def books_of(owner: User) -> QuerySet[Book]:
    return Book.objects.filter(owner=owner)


def book_jobs(book: Book) -> QuerySet[GenerationJob]:
    return GenerationJob.objects.filter(book_page_link__page__book=book)


def _has_gpu_ms() -> bool:
    # ``gpu_ms`` comes with the usage work (another branch); until then it counts as 0.
    return any(field.name == "gpu_ms" for field in GenerationJob._meta.get_fields())


def book_cost(book: Book) -> dict[str, Any]:
    """``{gpu_seconds, images, jobs}`` derived from the book's job rows, never a counter."""
    jobs = book_jobs(book)
    gpu_ms = (jobs.aggregate(total=Sum("gpu_ms"))["total"] or 0) if _has_gpu_ms() else 0
    images = GeneratedImage.objects.filter(job__in=jobs).count()
    return {"gpu_seconds": round(gpu_ms / 1000, 3), "images": images, "jobs": jobs.count()}
