"""Two users: everything alice owns is 404 to bob for every verb, and no list shows it."""

from __future__ import annotations

import pytest

from accounts.models import ApiToken, Avatar
from accounts.services import api_token_create
from characters.models import Character, ReferenceImage
from generation.models import GeneratedImage, Upload
from tests.fixtures.api import image_file, stored_keys

pytestmark = pytest.mark.django_db

# (method, url template, body kind): every endpoint that addresses one of alice's objects.
OBJECT_ENDPOINTS = [
    ("get", "/api/v1/avatars/{avatar}/", None),
    ("delete", "/api/v1/avatars/{avatar}/", None),
    ("post", "/api/v1/avatars/{avatar}/primary/", None),
    ("get", "/api/v1/characters/{character}/", None),
    ("patch", "/api/v1/characters/{character}/", "json"),
    ("delete", "/api/v1/characters/{character}/", None),
    ("post", "/api/v1/characters/{character}/references/", "image"),
    ("delete", "/api/v1/characters/{character}/references/{reference}/", None),
    ("get", "/api/v1/uploads/{upload}/", None),
    ("get", "/api/v1/images/{image}/", None),
    ("delete", "/api/v1/auth/tokens/{token}/", None),
]

LISTS = {
    "/api/v1/avatars/": "avatar",
    "/api/v1/characters/": "character",
    "/api/v1/images/": "image",
    "/api/v1/auth/tokens/": "token",
}


@pytest.fixture
def things(alice_things, alice):
    token, _ = api_token_create(user=alice, name="second")
    return {name: str(obj.pk) for name, obj in alice_things.items()} | {"token": str(token.pk)}


def send(client, method, template, body_kind, things):
    url = template.format(**things)
    if body_kind == "json":
        return getattr(client, method)(url, {"name": "Stolen"}, format="json")
    if body_kind == "image":
        return getattr(client, method)(url, {"image": image_file()}, format="multipart")
    return getattr(client, method)(url)


def snapshot():
    return {
        "avatars": list(Avatar.objects.values_list("pk", "primary")),
        "characters": list(Character.objects.values_list("pk", "name")),
        "references": ReferenceImage.objects.count(),
        "uploads": Upload.objects.count(),
        "images": GeneratedImage.objects.count(),
        "revoked": ApiToken.objects.filter(revoked_at__isnull=False).count(),
        "files": sorted(stored_keys()),
    }


def test_bob_gets_404_for_every_verb_on_alices_objects(bob_api, things):
    # One set of alice's objects for every endpoint: bob's requests change nothing (checked
    # after each one), so each of them meets the objects as they were made.
    for method, template, body_kind in OBJECT_ENDPOINTS:
        endpoint = f"{method.upper()} {template}"
        before = snapshot()
        response = send(bob_api, method, template, body_kind, things)
        assert response.status_code == 404, (endpoint, response.content)
        assert response.json()["error"]["code"] == "not_found", endpoint
        assert snapshot() == before, endpoint  # nothing changed, nothing stored


# Alice's own requests, the ones that remove an object after every other use of it.
ALICE_ORDER = sorted(
    OBJECT_ENDPOINTS,
    key=lambda endpoint: (
        endpoint[0] == "delete",
        endpoint[1] == "/api/v1/characters/{character}/",  # its references go with it
    ),
)


def test_alice_reaches_the_same_urls(api, things):
    # The 404s above come from ownership, not from wrong URLs.
    for method, template, body_kind in ALICE_ORDER:
        response = send(api, method, template, body_kind, things)
        assert response.status_code in (200, 201, 204), (method, template, response.content)


def test_lists_never_show_alices_objects(api, bob_api, things):
    for url, name in LISTS.items():
        own_ids = {item["id"] for item in api.get(url).json()["results"]}
        assert things[name] in own_ids, url
        body = bob_api.get(url).json()
        assert things[name] not in {item["id"] for item in body["results"]}, url
        if url != "/api/v1/auth/tokens/":
            assert body["count"] == 0, url  # bob's own token is his only object


def test_images_filtered_by_alices_job_or_character_stay_empty_for_bob(bob_api, alice_things):
    image = alice_things["image"]
    for query in (f"job={image.job_id}", f"character={alice_things['character'].pk}"):
        assert bob_api.get(f"/api/v1/images/?{query}").json()["count"] == 0


def test_a_private_lora_is_404_and_unlisted_for_other_users(bob_api, api, alice, private_lora):
    assert api.get(f"/api/v1/loras/{private_lora.slug}/").status_code == 200
    response = bob_api.get(f"/api/v1/loras/{private_lora.slug}/")
    assert response.status_code == 404
    assert private_lora.slug not in {
        item["slug"] for item in bob_api.get("/api/v1/loras/").json()["results"]
    }


def test_a_private_lora_cannot_be_borrowed_by_slug(bob_api, private_lora):
    response = bob_api.post(
        "/api/v1/characters/",
        {"name": "Thief", "default_loras": [{"lora": private_lora.slug}]},
        format="json",
    )
    assert response.status_code == 400
    assert "default_loras.0.lora" in response.json()["error"]["fields"]
    assert not Character.objects.filter(name="Thief").exists()


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", "/health/detailed/"), ("post", "/health/warmup/"), ("post", "/api/v1/loras/")],
)
def test_staff_only_endpoints_are_403_for_users(bob_api, method, url):
    response = getattr(bob_api, method)(url)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
