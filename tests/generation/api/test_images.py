"""Generated images: filters, ordering and fresh URLs."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from characters.services import character_create
from tests.fixtures.api import make_generated_image

pytestmark = pytest.mark.django_db

FIELDS = {
    "id", "job", "index", "url", "thumbnail_url", "width", "height", "seed",
    "consistency_score", "accepted", "review_status", "created_at", "manifest",
}  # fmt: skip


@pytest.fixture
def images(alice):
    luca = character_create(owner=alice, name="Luca")
    return {
        "plain": make_generated_image(alice),
        "low": make_generated_image(alice, character=luca, score=0.2, accepted=False),
        "high": make_generated_image(alice, character=luca, score=0.9, review_status="approved"),
    }


def ids(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["results"]]


def test_the_resource_has_every_field_and_working_urls(api, images):
    body = api.get(f"/api/v1/images/{images['high'].pk}/").json()
    assert set(body) == FIELDS
    assert body["job"] == str(images["high"].job_id) and body["manifest"] == {"seed": 7}
    assert body["url"].startswith("http") and body["thumbnail_url"].startswith("http")
    assert default_storage.exists(images["high"].file.name)


def test_filters(api, images):
    luca = images["low"].job.character_id
    assert set(ids(api.get(f"/api/v1/images/?character={luca}"))) == {
        str(images["low"].pk),
        str(images["high"].pk),
    }
    assert ids(api.get(f"/api/v1/images/?job={images['plain'].job_id}")) == [
        str(images["plain"].pk)
    ]
    assert ids(api.get("/api/v1/images/?accepted=false")) == [str(images["low"].pk)]
    assert ids(api.get("/api/v1/images/?review_status=approved")) == [str(images["high"].pk)]


def test_ordering(api, images):
    by_score = ids(api.get("/api/v1/images/?ordering=-consistency_score"))
    assert by_score == [str(images[name].pk) for name in ("high", "low", "plain")]
    newest_first = ids(api.get("/api/v1/images/"))
    assert newest_first == [str(images[name].pk) for name in ("high", "low", "plain")]
    assert ids(api.get("/api/v1/images/?ordering=created_at")) == newest_first[::-1]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("job=not-a-uuid", "job"),
        ("character=12", "character"),
        ("accepted=perhaps", "accepted"),
        ("review_status=lost", "review_status"),
        ("ordering=seed", "ordering"),
        (
            "job=8a3c3a55-6bd3-4d2c-9d3e-0f3c7bb5f3a1&job=8a3c3a55-6bd3-4d2c-9d3e-0f3c7bb5f3a2",
            "job",
        ),
    ],
)
def test_bad_filters_are_400_naming_the_parameter(api, images, query, field):
    response = api.get(f"/api/v1/images/?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert field in error["fields"] and field in error["message"]
