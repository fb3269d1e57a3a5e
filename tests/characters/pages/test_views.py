"""The character pages through Django's test client: create, list, and a duplicate name
refused beside its field."""

from __future__ import annotations

import pytest

from tests.fixtures.pages import field_block

pytestmark = pytest.mark.django_db


def test_character_pages_create_list_and_refuse_duplicate_names(browser_client, user):
    response = browser_client.post(
        "/characters/", {"name": "Astro", "trigger_words": "astro, hero"}
    )
    character = user.characters.get()
    assert response["Location"] == f"/characters/{character.id}/"
    assert character.trigger_words == ["astro", "hero"]
    duplicate = browser_client.post("/characters/", {"name": "Astro"}).content.decode()
    assert "A character with this name exists." in field_block(duplicate, "name")
    listing = browser_client.get("/characters/").content.decode()
    assert f"/characters/{character.id}/" in listing and "0 references" in listing
