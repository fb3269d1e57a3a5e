"""LoRA registry and style presets over the API."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Lora, StylePreset
from tests.catalog.services.test_lora_registry import lora_bytes
from tests.fixtures.api import lora_upload, stored_keys

pytestmark = pytest.mark.django_db

FIELDS = {"slug": "hero", "name": "Hero", "type": "character"}


def register(client, upload=None, **fields):
    return client.post(
        "/api/v1/loras/", {"file": upload or lora_upload(), **FIELDS, **fields}, format="multipart"
    )


def test_staff_registers_a_lora_then_the_same_file_answers_200(staff_api, api):
    response = register(
        staff_api, trigger_words=["hero", "red cape"], default_weight="0.6", max_weight="1.2"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["sha256"] == hashlib.sha256(lora_bytes()).hexdigest()
    assert body["trigger_words"] == ["hero", "red cape"] and body["is_public"] is True
    assert (body["default_weight"], body["max_weight"]) == (0.6, 1.2)
    again = register(staff_api, slug="hero-again")
    assert again.status_code == 200 and again.json()["slug"] == "hero"
    assert Lora.objects.count() == 1 and len(stored_keys("loras/")) == 1
    # Users see it in the registry.
    assert api.get("/api/v1/loras/hero/").json()["sha256"] == body["sha256"]


def test_non_staff_cannot_register(api):
    response = register(api)
    assert response.status_code == 403
    assert not Lora.objects.exists() and stored_keys() == []


def test_a_private_lora_registered_for_a_user_is_theirs_only(staff_api, api, bob_api):
    response = register(staff_api, is_public="false", user_id="alice")
    assert response.status_code == 201, response.json()
    assert Lora.objects.get().owner.username == "alice"
    assert api.get("/api/v1/loras/hero/").status_code == 200
    assert bob_api.get("/api/v1/loras/hero/").status_code == 404


@pytest.mark.parametrize(
    ("upload", "fields", "field"),
    [
        (SimpleUploadedFile("hero.ckpt", b"pickle"), {}, "file"),
        (SimpleUploadedFile("hero.safetensors", b"\x00" * 64), {}, "file"),
        (None, {"type": "painting"}, "type"),
        (None, {"slug": "not a slug"}, "slug"),
        (None, {"default_weight": "2", "max_weight": "1.5"}, "default_weight"),
        (None, {"min_weight": "nan"}, "min_weight"),
        (None, {"colour": "red"}, "colour"),
    ],
)
def test_bad_registrations_are_400_naming_the_field_and_store_nothing(
    staff_api, upload, fields, field
):
    response = register(staff_api, upload, **fields)
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"]
    assert not Lora.objects.exists() and stored_keys() == []


def test_a_slug_taken_by_another_file_is_400_naming_slug(staff_api):
    assert register(staff_api).status_code == 201
    response = register(staff_api, lora_upload(seed=5))
    assert response.status_code == 400 and "slug" in response.json()["error"]["fields"]
    assert Lora.objects.count() == 1 and len(stored_keys("loras/")) == 1


def test_a_file_over_the_lora_cap_is_413(staff_api, settings):
    settings.ILLU_LORA_MAX_BYTES = 100
    response = register(staff_api)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert not Lora.objects.exists() and stored_keys() == []


def test_list_filters_by_type_and_hides_disabled(api, public_lora, private_lora):
    Lora.objects.filter(pk=public_lora.pk).update(type="style")
    slugs = {item["slug"] for item in api.get("/api/v1/loras/").json()["results"]}
    assert slugs == {"ink", "alice-secret"}
    styles = api.get("/api/v1/loras/?type=style").json()["results"]
    assert [item["slug"] for item in styles] == ["ink"]
    response = api.get("/api/v1/loras/?type=painting")
    assert response.status_code == 400 and "type" in response.json()["error"]["fields"]
    Lora.objects.filter(pk=public_lora.pk).update(enabled=False)
    assert api.get("/api/v1/loras/ink/").status_code == 404


def test_styles_list_only_enabled_presets(api):
    StylePreset.objects.create(slug="api-on", name="On", negative_prompt="blurry")
    StylePreset.objects.create(slug="api-off", name="Off", enabled=False)
    slugs = {item["slug"] for item in api.get("/api/v1/styles/?page=1").json()["results"]}
    assert "api-on" in slugs and "api-off" not in slugs
    body = api.get("/api/v1/styles/api-on/").json()
    assert body["negative_prompt"] == "blurry" and body["prompt_template"] == "{prompt}"
    assert api.get("/api/v1/styles/api-off/").status_code == 404
