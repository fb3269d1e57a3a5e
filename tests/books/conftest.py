"""Books fixtures: a book of the API user's with pages, a character with a threshold."""

from __future__ import annotations

import pytest

from characters.services import character_create


@pytest.fixture
def hero(user):
    return character_create(owner=user, name="Pip", consistency_threshold=0.5)


@pytest.fixture
def book(api, hero) -> dict:
    body = api.post(
        "/api/v1/books/",
        {"title": "Pip at sea", "characters": [str(hero.id)], "candidates_per_page": 2},
        format="json",
    ).json()
    for prompt, text, characters in [
        ("a boat at dawn", "Pip woke early.", [str(hero.id)]),
        ("a whale", "A whale said hello.", []),
        ("a harbour at night", "Home again.", [str(hero.id)]),
    ]:
        response = api.post(
            f"/api/v1/books/{body['id']}/pages/",
            {"prompt": prompt, "text": text, "characters": characters},
            format="json",
        )
        assert response.status_code == 201, response.json()
    return api.get(f"/api/v1/books/{body['id']}/").json()
