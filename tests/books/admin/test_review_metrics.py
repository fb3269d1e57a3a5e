"""Review metrics: acceptance rate = approved pages / generated images, per style, character
and model, in a selector and on the admin's review metrics page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from books.models import PageJob, PageReviewStatus
from books.review_metrics import acceptance_rates
from books.services import book_create, page_create
from catalog.models import StylePreset
from characters.services import character_create
from generation.models import GenerationJob
from tests.fixtures.admin import make_image

pytestmark = pytest.mark.django_db


def candidates(page, count: int, *, model: str = "demo:tiny-sdxl", purpose: str = "generate"):
    job = GenerationJob.objects.create(
        owner=page.book.owner, kind="text", status="succeeded", params={"model": model}
    )
    PageJob.objects.create(page=page, job=job, purpose=purpose)
    return [make_image(job, index=index, thumbnail=False) for index in range(count)]


def reviewed(page, image, status=PageReviewStatus.APPROVED):
    page.selected_image, page.review_status = image, status
    page.save()


@pytest.fixture
def reviewed_books(user):
    """Comic book: Pip's page, 4 candidates + a re-roll of 2, approved; Pip and Luca's page,
    2 candidates, changes asked. Unstyled book on another model: 1 candidate, approved."""
    pip = character_create(owner=user, name="Pip")
    luca = character_create(owner=user, name="Luca")
    comic = book_create(owner=user, title="Pip", style="comic", characters=[pip.pk, luca.pk])
    alone = page_create(book=comic, prompt="a boat", characters=[pip.pk])
    candidates(alone, 4)
    reviewed(alone, candidates(alone, 2, purpose="reroll")[1])
    both = page_create(book=comic, prompt="a whale", characters=[pip.pk, luca.pk])
    reviewed(both, candidates(both, 2)[0], PageReviewStatus.CHANGES_REQUESTED)
    plain = book_create(owner=user, title="Sea")
    sea = page_create(book=plain, prompt="the sea")
    reviewed(sea, candidates(sea, 1, model="other-model")[0])


def table(rows):
    return {row["key"]: (row["generated"], row["approved"], row["rate"]) for row in rows}


def test_acceptance_rate_is_approved_pages_over_generated_images(reviewed_books):
    assert table(acceptance_rates(group="style")) == {
        "comic": (8, 1, 0.125),
        "(none)": (1, 1, 1.0),
    }
    # A page with two characters counts for both; a page without is in no character's row.
    assert table(acceptance_rates(group="character")) == {
        "Pip (alice)": (8, 1, 0.125),
        "Luca (alice)": (2, 0, 0.0),
    }
    assert table(acceptance_rates(group="model")) == {
        "demo:tiny-sdxl": (8, 1, 0.125),
        "other-model": (1, 1, 1.0),
    }


def test_admin_review_metrics_page_shows_the_rates_of_the_filtered_pages(
    staff_client, reviewed_books
):
    url = reverse("admin:books_reviewmetrics_changelist")
    response = staff_client.get(url)
    assert table(response.context["acceptance"]["style"]) == {
        "comic": (8, 1, 0.125),
        "(none)": (1, 1, 1.0),
    }
    page = response.content.decode()
    assert 'id="acceptance-per-character"' in page and "Luca (alice)" in page
    comic = StylePreset.objects.get(slug="comic")
    narrowed = staff_client.get(url, {"book__style__id__exact": comic.pk}).context["acceptance"]
    assert table(narrowed["model"]) == {"demo:tiny-sdxl": (8, 1, 0.125)}
