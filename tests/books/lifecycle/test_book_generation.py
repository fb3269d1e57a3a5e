"""A three-page book with one character generates through a real worker process on the demo
model (256 px, 2 steps, 2 candidates a page): every page gets a selected image, and every
candidate is scored by the worker for each character of its page (the last page has two); the
character pages' candidates all fail the identity threshold (demo images are noise: no face),
so each is re-rolled once (the budget) and ends with its best candidate and
``needs_attention``; the book's event stream reports each page, then ``completed``."""

from __future__ import annotations

import httpx
import pytest

from accounts.services import api_token_create
from books.models import PageJob, PageJobPurpose
from catalog.models import StylePreset
from characters.services import character_create, reference_add
from generation.models import GeneratedImage
from tests import photos

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_book_generates_through_real_workers(
    api, user, settings, worker_env, empty_queues, run_worker_burst, asgi_server
):
    settings.ILLU_BOOK_IMAGE_SCALE = 0.25
    worker_env.update(ILLU_BOOK_IMAGE_SCALE="0.25", ILLU_BOOK_PAGE_RETRY_BUDGET="1")
    StylePreset.objects.create(slug="book-quick", name="Quick", steps=2)
    hero = character_create(owner=user, name="Astro", consistency_threshold=0.99)
    reference_add(character=hero, upload=photos.upload_of(photos.astronaut()))
    mate = character_create(owner=user, name="Bea", consistency_threshold=0.99)
    reference_add(character=mate, upload=photos.upload_of(photos.other_person()))
    book = api.post(
        "/api/v1/books/",
        {"title": "Astro", "style": "book-quick", "characters": [str(hero.id), str(mate.id)],
         "candidates_per_page": 2},
        format="json",
    ).json()  # fmt: skip
    pages = [("on the moon", [hero.id]), ("a rocket", []), ("home", [hero.id, mate.id])]
    for prompt, characters in pages:
        api.post(
            f"/api/v1/books/{book['id']}/pages/",
            {"prompt": prompt, "text": prompt.title(), "characters": [str(c) for c in characters]},
            format="json",
        )
    assert api.post(f"/api/v1/books/{book['id']}/generate/", {}, format="json").status_code == 202

    run_worker_burst()

    body = api.get(f"/api/v1/books/{book['id']}/").json()
    assert body["status"] == "review" and body["progress"] == {"pages_done": 3, "pages_total": 3}
    with_hero, plain = [body["pages"][0], body["pages"][2]], body["pages"][1]
    for page, cast in zip(with_hero, [[hero], [hero, mate]], strict=True):
        assert page["needs_attention"] is True
        assert len(page["candidates"]) == 4  # the first round and one re-roll, 2 images each
        assert page["selected_image"]["id"] in {c["id"] for c in page["candidates"]}
        assert page["selected_image"]["width"] == 256
        # Every candidate scored for each of the page's characters (noise: no face, null).
        for candidate in page["candidates"]:
            assert candidate["identity_scores"] == {str(c.id): None for c in cast}
            stored = GeneratedImage.objects.get(pk=candidate["id"]).manifest
            assert stored.get("character_scores", {}).keys() == (
                {str(hero.id), str(mate.id)} if mate in cast else set()
            )
        purposes = list(
            PageJob.objects.filter(page_id=page["id"]).values_list("purpose", flat=True)
        )
        assert purposes == [PageJobPurpose.GENERATE, PageJobPurpose.REROLL]
    assert plain["needs_attention"] is False and len(plain["candidates"]) == 2
    assert plain["selected_image"]["id"] == plain["candidates"][0]["id"]
    assert body["cost"]["images"] == 10 and body["cost"]["jobs"] == 5

    _, token = api_token_create(user=user)
    with httpx.stream(
        "GET",
        f"{asgi_server}/api/v1/books/{book['id']}/events/",
        headers={"Authorization": f"Token {token}"},
        timeout=httpx.Timeout(60),
    ) as response:
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line.startswith("event: ")]
    assert lines == ["event: page"] * 3 + ["event: completed"]
