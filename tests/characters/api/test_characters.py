"""Characters over the API: create, read, patch, delete, references; bad input names fields."""

from __future__ import annotations

import pytest

from catalog.models import StylePreset
from characters.models import Character, ReferenceImage
from tests.fixtures.api import image_file, stored_keys

pytestmark = pytest.mark.django_db


@pytest.fixture
def style():
    return StylePreset.objects.create(slug="api-test-style", name="API test style")


def test_create_returns_the_full_resource(api, public_lora, style):
    payload = {
        "name": "Luca",
        "description": "A boy with a red scarf.",
        "trigger_words": ["luca", "red scarf"],
        "default_loras": [{"lora": "ink", "weight": 0.6}],
        "style": "api-test-style",
        "consistency_threshold": 0.7,
        "scene_presets": {"beach": "on a sunny beach"},
    }
    response = api.post("/api/v1/characters/", payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    for key, value in payload.items():
        assert body[key] == value, key
    assert body["references"] == [] and body["created_at"] and body["updated_at"]
    assert api.get(f"/api/v1/characters/{body['id']}/").json() == body


def test_a_lora_without_weight_gets_its_default(api, public_lora):
    body = api.post(
        "/api/v1/characters/", {"name": "Mia", "default_loras": [{"lora": "ink"}]}, format="json"
    ).json()
    assert body["default_loras"] == [{"lora": "ink", "weight": public_lora.default_weight}]


def test_patch_changes_only_what_is_sent(api, public_lora, style):
    created = api.post(
        "/api/v1/characters/",
        {"name": "Luca", "style": "api-test-style", "default_loras": [{"lora": "ink"}]},
        format="json",
    ).json()
    response = api.patch(
        f"/api/v1/characters/{created['id']}/",
        {"description": "older now", "style": None},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["description"] == "older now" and body["style"] is None
    assert body["name"] == "Luca" and body["default_loras"] == created["default_loras"]
    response = api.patch(
        f"/api/v1/characters/{created['id']}/", {"default_loras": []}, format="json"
    )
    assert response.json()["default_loras"] == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "A", "consistency_threshold": 1.5}, "consistency_threshold"),
        ({"name": "A", "style": "no-such-style"}, "style"),
        ({"name": "A", "default_loras": [{"lora": "nope"}]}, "default_loras.0.lora"),
        ({"name": "A", "default_loras": [{"lora": "ink", "weight": 9}]}, "default_loras.0.weight"),
        (
            {"name": "A", "default_loras": [{"lora": "ink"}, {"lora": "ink"}]},
            "default_loras.1.lora",
        ),
        ({"name": "A", "default_loras": [{"lora": "ink", "x": 1}]}, "default_loras.0.x"),
        ({"name": "A", "trigger_words": "luca"}, "trigger_words"),
        ({"name": "A", "scene_presets": {"": "x"}}, "scene_presets"),
        ({"name": "A", "scene_presets": ["beach"]}, "scene_presets"),
        ({"name": "A", "colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_stores_nothing(api, public_lora, payload, field):
    response = api.post("/api/v1/characters/", payload, format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"]
    assert field.split(".")[0] in error["message"]
    assert not Character.objects.exists()


def test_names_are_unique_per_owner_on_create_and_patch(api, bob_api):
    api.post("/api/v1/characters/", {"name": "Luca"}, format="json")
    other = api.post("/api/v1/characters/", {"name": "Mia"}, format="json").json()
    response = api.post("/api/v1/characters/", {"name": "Luca"}, format="json")
    assert response.status_code == 400 and "name" in response.json()["error"]["fields"]
    response = api.patch(f"/api/v1/characters/{other['id']}/", {"name": "Luca"}, format="json")
    assert response.status_code == 400 and "name" in response.json()["error"]["fields"]
    # Another user may use the same name.
    assert bob_api.post("/api/v1/characters/", {"name": "Luca"}, format="json").status_code == 201


def test_a_body_over_the_request_limit_is_413(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    response = api.post(
        "/api/v1/characters/", {"name": "A", "description": "x" * 3000}, format="json"
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert not Character.objects.exists()


def test_references_are_added_listed_and_removed_with_their_files(
    api, django_capture_on_commit_callbacks
):
    character = api.post("/api/v1/characters/", {"name": "Luca"}, format="json").json()
    url = f"/api/v1/characters/{character['id']}/references/"
    reference = api.post(url, {"image": image_file()}).json()
    assert set(reference) >= {"id", "url", "face"}
    face = reference["face"]  # a plain colour: detection (when installed) finds no face
    assert set(face) == {"detected", "score", "count"}
    assert face["detected"] is (None if face["count"] is None else face["count"] == 1)
    listed = api.get(f"/api/v1/characters/{character['id']}/").json()["references"]
    assert [item["id"] for item in listed] == [reference["id"]]
    assert len(stored_keys("references/")) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"{url}{reference['id']}/").status_code == 204
    assert not ReferenceImage.objects.exists() and stored_keys("references/") == []


def test_deleting_a_character_removes_its_reference_files(api, django_capture_on_commit_callbacks):
    character = api.post("/api/v1/characters/", {"name": "Luca"}, format="json").json()
    api.post(f"/api/v1/characters/{character['id']}/references/", {"image": image_file()})
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/v1/characters/{character['id']}/").status_code == 204
    assert not Character.objects.exists() and stored_keys() == []
    assert api.get(f"/api/v1/characters/{character['id']}/").status_code == 404


def test_a_reference_of_another_character_is_404(api):
    first = api.post("/api/v1/characters/", {"name": "A"}, format="json").json()
    second = api.post("/api/v1/characters/", {"name": "B"}, format="json").json()
    ref = api.post(f"/api/v1/characters/{first['id']}/references/", {"image": image_file()}).json()
    response = api.delete(f"/api/v1/characters/{second['id']}/references/{ref['id']}/")
    assert response.status_code == 404
    assert ReferenceImage.objects.filter(pk=ref["id"]).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": 12}, "name"),
        ({"name": "A", "consistency_threshold": "0.5"}, "consistency_threshold"),
        ({"name": "A", "consistency_threshold": True}, "consistency_threshold"),
        ({"name": "A", "trigger_words": ["ok", 3]}, "trigger_words.1"),
        ({"name": "A", "scene_presets": {"beach": 1}}, "scene_presets.beach"),
        (
            {"name": "A", "default_loras": [{"lora": "ink", "weight": "0.5"}]},
            "default_loras.0.weight",
        ),
    ],
)
def test_json_values_of_the_wrong_type_are_400_not_coerced(api, public_lora, payload, field):
    response = api.post("/api/v1/characters/", payload, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert not Character.objects.exists()


def test_a_character_pins_an_enabled_base_model_its_jobs_then_use(api):
    from catalog.models import BaseModel

    BaseModel.objects.create(slug="anime", name="Anime", source="demo:tiny-sdxl-b")
    BaseModel.objects.create(slug="off", name="Off", source="demo:tiny-sdxl", enabled=False)
    refused = api.post("/api/v1/characters/", {"name": "Luca", "model": "off"}, format="json")
    assert refused.status_code == 400 and "model" in refused.json()["error"]["fields"]
    body = api.post("/api/v1/characters/", {"name": "Luca", "model": "anime"}, format="json").json()
    assert body["model"] == "anime"
    job = api.post(
        "/api/v1/jobs/",
        {"kind": "character", "character": body["id"], "prompt": "x", "width": 256,
         "height": 256},
        format="json",
    )  # fmt: skip
    assert job.status_code == 201, job.json()
    assert job.json()["params"]["model"] == "anime"
    cleared = api.patch(f"/api/v1/characters/{body['id']}/", {"model": None}, format="json")
    assert cleared.json()["model"] is None
