"""Generating a book's pages: one job per page through generation's job service (so quotas,
fair share, batching and priorities apply as to any job), choosing an image by hand, and
regenerating a page with a new prompt or a note."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction

from characters.models import Character
from core.errors import InvalidParams
from generation.models import GeneratedImage, GenerationJob, JobKind
from generation.services import job_create
from work.models import ACTIVE_STATUSES

from .models import (
    Book,
    BookPage,
    BookStatus,
    CommentKind,
    PageComment,
    PageJob,
    PageJobPurpose,
    PageReviewStatus,
)
from .page_events import book_page_published
from .selectors import page_candidates
from .sizes import nearest_bucket


def _invalid(field: str, message: str) -> InvalidParams:
    return InvalidParams(f"{field}: {message}", {field: [message]})


def page_characters(page: BookPage) -> list[Character]:
    """The page's characters, by name: the first is the one its jobs keep the identity of; the
    worker scores every image against the others too (``score_characters``)."""
    return list(page.characters.order_by("name"))


def page_prompt(page: BookPage, characters: list[Character], note: str = "") -> str:
    # Characters after the first are named in the prompt (a job keeps one identity).
    extra = [word for c in characters[1:] for word in (c.trigger_words or [c.name])]
    return ", ".join(part for part in [page.prompt, *extra, note] if part)


def page_job_params(page: BookPage, *, note: str = "") -> tuple[str, dict[str, Any]]:
    """The kind and request of a page's job: the book's style, model and candidates per page, the
    size bucket nearest the page's aspect ratio; a character job for its first character
    (its images scored against the others too), else a control job when the page has a
    control image, else a text job."""
    book = page.book
    characters = page_characters(page)
    width, height = nearest_bucket(
        book.page_width_in, book.page_height_in, settings.ILLU_BOOK_IMAGE_SCALE
    )
    params: dict[str, Any] = {
        "prompt": page_prompt(page, characters, note),
        "width": width,
        "height": height,
        "num_images": book.candidates_per_page,
    }
    if book.style_id:
        params["style"] = book.style.slug
    if book.model:
        params["model"] = book.model
    if characters:
        params["character"] = str(characters[0].pk)
        if characters[1:]:
            params["score_characters"] = [str(c.pk) for c in characters[1:]]
        return JobKind.CHARACTER, params
    if page.control_image_id:
        params["control"] = {"type": page.control_type, "image": str(page.control_image_id)}
        return JobKind.CONTROL, params
    return JobKind.TEXT, params


def page_job_start(
    *, page: BookPage, purpose: str, kind: str, params: dict[str, Any]
) -> GenerationJob:
    """Create the job through the job service and link it to the page."""
    job, _ = job_create(owner=page.book.owner, kind=kind, params=params)
    PageJob.objects.create(page=page, job=job, purpose=purpose)
    return job


def _start_round(page: BookPage, purpose: str, note: str = "") -> GenerationJob:
    """A fresh round for the page: its choice and flags cleared, then its first job."""
    kind, params = page_job_params(page, note=note)
    page.selected_image = None
    page.needs_attention = False
    page.retries_used = 0
    page.review_status = PageReviewStatus.PENDING
    page.save(update_fields=["selected_image", "needs_attention", "retries_used",
                             "review_status", "updated_at"])  # fmt: skip
    return page_job_start(page=page, purpose=purpose, kind=kind, params=params)


def page_has_active_job(page: BookPage) -> bool:
    return page.page_jobs.filter(job__status__in=ACTIVE_STATUSES).exists()


@transaction.atomic
def book_generate(*, book: Book, pages: list[UUID | str] | None = None) -> list[GenerationJob]:
    """One job per page (of ``pages``, else all) that has no approved image and no job under
    way. All or nothing: a quota that refuses one page's job creates none."""
    Book.objects.select_for_update().filter(pk=book.pk).first()
    chosen = list(book.pages.all())
    if pages is not None:
        wanted = [str(value) for value in pages]
        by_id = {str(page.pk): page for page in chosen}
        for position, value in enumerate(wanted):
            if value not in by_id:
                raise _invalid(f"pages.{position}", f"Page {value} is not in this book.")
        chosen = [by_id[value] for value in dict.fromkeys(wanted)]
    if not chosen:
        raise _invalid("pages", "The book has no pages to generate.")
    jobs = [
        _start_round(page, PageJobPurpose.GENERATE)
        for page in chosen
        if page.review_status != PageReviewStatus.APPROVED and not page_has_active_job(page)
    ]
    if jobs:
        Book.objects.filter(pk=book.pk).update(status=BookStatus.GENERATING)
    return jobs


@transaction.atomic
def page_regenerate(
    *, page: BookPage, prompt: str | None = None, note: str = "", author=None
) -> GenerationJob:
    """A new round for one page, approved or not: a new scene (``prompt``) and/or a ``note``
    added to this round's prompt and kept as the owner's comment."""
    Book.objects.select_for_update().filter(pk=page.book_id).first()
    if page_has_active_job(page):
        raise _invalid("page", "This page is being generated; wait for it to finish.")
    if prompt:
        page.prompt = prompt
        page.save(update_fields=["prompt", "updated_at"])
    if note:
        PageComment.objects.create(page=page, kind=CommentKind.NOTE, text=note, author=author)
    job = _start_round(page, PageJobPurpose.REGENERATE, note=note)
    Book.objects.filter(pk=page.book_id).update(status=BookStatus.GENERATING)
    return job


@transaction.atomic
def page_select(*, page: BookPage, image_id: UUID | str) -> BookPage:
    """The owner's choice among the page's candidates (any round's)."""
    image = page_candidates(page).filter(pk=image_id).first()
    if image is None:
        raise _invalid("image", f"Image {image_id} is not a candidate of this page.")
    page_image_set(page=page, image=image, needs_attention=False)
    return page


def page_image_set(*, page: BookPage, image: GeneratedImage, needs_attention: bool) -> None:
    """Give the page its image; once every page has one, the book is ready for review.
    Announced on the book's event channel after commit."""
    page.selected_image = image
    page.needs_attention = needs_attention
    page.save(update_fields=["selected_image", "needs_attention", "updated_at"])
    book = page.book
    done = not book.pages.filter(selected_image__isnull=True).exists()
    if done:
        Book.objects.filter(
            pk=book.pk, status__in=[BookStatus.DRAFT, BookStatus.GENERATING]
        ).update(status=BookStatus.REVIEW)
    transaction.on_commit(lambda: book_page_published(book_id=book.pk, page_id=page.pk, done=done))
