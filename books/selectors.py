"""Reads on books: the owner's books and pages, a page's candidates, progress and cost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Q, QuerySet, Sum

from accounts.models import User
from generation.models import GeneratedImage, GenerationJob

from .models import Book, BookPage, PageJob, PageJobPurpose


def books_of(owner: User) -> QuerySet[Book]:
    return Book.objects.filter(owner=owner)


# Jobs other apps make for a book (exports' upscale jobs), named by those apps at their
# ``ready()``: books sit below them and never import them.
BookJobSource = Callable[[Book], QuerySet]
_job_sources: list[BookJobSource] = []


def book_job_source_register(source: BookJobSource) -> None:
    """``source(book)``: a queryset of the primary keys of further jobs made for ``book``."""
    if source not in _job_sources:
        _job_sources.append(source)


def book_jobs(book: Book) -> QuerySet[GenerationJob]:
    """Every job made for the book: its pages' jobs and the registered sources' jobs."""
    made_for_book = Q(book_page_link__page__book=book)
    for source in _job_sources:
        made_for_book |= Q(pk__in=source(book))
    return GenerationJob.objects.filter(made_for_book)


def book_cost(book: Book) -> dict[str, Any]:
    """``{gpu_seconds, images, jobs}`` of ``book_jobs`` (page jobs and the exports' upscale
    jobs), derived from the job rows, never a counter."""
    jobs = book_jobs(book)
    gpu_ms = jobs.aggregate(total=Sum("gpu_ms"))["total"] or 0
    images = GeneratedImage.objects.filter(job__in=jobs).count()
    return {"gpu_seconds": round(gpu_ms / 1000, 3), "images": images, "jobs": jobs.count()}


def page_candidates(page: BookPage) -> QuerySet[GeneratedImage]:
    """Every image of every job the page has had, oldest first."""
    return GeneratedImage.objects.filter(job__book_page_link__page=page).order_by(
        "job__created_at", "index"
    )


def page_round_links(page: BookPage) -> QuerySet[PageJob]:
    """The page's jobs since its last generate or regenerate (the current round)."""
    start = (
        page.page_jobs.filter(purpose__in=[PageJobPurpose.GENERATE, PageJobPurpose.REGENERATE])
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    links = page.page_jobs.select_related("job")
    return links.filter(created_at__gte=start) if start else links.none()


def book_progress(book: Book) -> dict[str, int]:
    pages = book.pages.all()
    return {
        "pages_done": pages.filter(selected_image__isnull=False).count(),
        "pages_total": pages.count(),
    }


def candidate_scores(page: BookPage) -> dict[str, dict[str, float | None]]:
    """``{image_id: {character_id: score}}`` over the page's jobs."""
    scores: dict[str, dict[str, float | None]] = {}
    for link_scores in page.page_jobs.values_list("identity_scores", flat=True):
        scores.update(link_scores or {})
    return scores
