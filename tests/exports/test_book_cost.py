"""A book's cost counts the upscale jobs its exports made, besides its pages' jobs: engine
time, images and jobs, derived from the job rows; another book's upscales are not its."""

from __future__ import annotations

import pytest

from books.models import PageJob
from books.selectors import book_cost
from exports.models import BookExport
from generation.models import GenerationJob
from tests.exports.books import illustrated_book
from tests.fixtures.admin import make_image

pytestmark = pytest.mark.django_db


def ended_job(owner, *, gpu_ms: int, images: int, kind: str = "upscale") -> GenerationJob:
    job = GenerationJob.objects.create(
        owner=owner, kind=kind, status="succeeded", params={}, gpu_ms=gpu_ms
    )
    for index in range(images):
        make_image(job, index=index, thumbnail=False)
    return job


def test_book_cost_includes_its_exports_upscale_jobs(user):
    book = illustrated_book(user, pages=[("a boat", "One."), ("a whale", "Two.")])
    other = illustrated_book(user, pages=[("a harbour", "Three.")])
    page_job = ended_job(user, gpu_ms=3000, images=2, kind="text")
    PageJob.objects.create(page=book.pages.first(), job=page_job, purpose="generate")
    upscale = ended_job(user, gpu_ms=1500, images=1)
    pdf = BookExport.objects.create(owner=user, book=book, format="pdf")
    again = BookExport.objects.create(owner=user, book=book, format="pdf")
    pdf.upscale_jobs.add(upscale, ended_job(user, gpu_ms=500, images=1))
    again.upscale_jobs.add(upscale)  # one job named by two exports counts once
    BookExport.objects.create(owner=user, book=other, format="pdf").upscale_jobs.add(
        ended_job(user, gpu_ms=9000, images=1)
    )

    assert book_cost(book) == {"gpu_seconds": 5.0, "images": 4, "jobs": 3}
    assert book_cost(other) == {"gpu_seconds": 9.0, "images": 1, "jobs": 1}
