"""Lone UTF-16 surrogates (a JSON ``"\\ud800"``, or ASCII bytes in a charset such as UTF-7)
are refused where the input is parsed, with a 400 naming the place (value, nested value, key,
query parameter, multipart field, page form) and nothing stored on either database; and every
error body is valid JSON whatever it echoes."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from characters.models import Character
from core.api_errors import error_body
from core.renderers import JSONRenderer
from core.surrogates import json_dumps_safe
from generation.models import GenerationJob
from training.models import TrainingRun

pytestmark = pytest.mark.django_db

SURROGATE = "\\ud800"  # as the JSON escape a client sends
UTF7_SURROGATE = b"%2B2AA-"  # "+2AA-": UTF-7 for U+D800, percent-encoded in a form body


def post_raw(client, url: str, body: str):
    return client.generic("POST", url, body.encode(), content_type="application/json")


def refused(response, *places: str) -> dict:
    """A 400 `invalid` whose body is valid UTF-8 JSON and names each of ``places``."""
    assert response.status_code == 400, response.content
    body = json.loads(response.content.decode("utf-8"))  # strict UTF-8: no surrogate inside
    assert body["error"]["code"] == "invalid"
    for place in places:
        assert place in body["error"]["fields"], body
    return body


JOB_BODIES = {
    "kind": ('{"kind": "\\ud800"}', "kind"),
    "quality": ('{"kind": "text", "prompt": "p", "quality": "\\ud800"}', "quality"),
    "scheduler": ('{"kind": "text", "prompt": "p", "scheduler": "\\ud800"}', "scheduler"),
    "priority": ('{"kind": "text", "prompt": "p", "priority": "\\ud800"}', "priority"),
    "webhook_events": (
        '{"kind": "text", "prompt": "p", "webhook_events": ["\\ud800"]}',
        "webhook_events.0",
    ),
    "unknown field name": ('{"kind": "text", "prompt": "p", "\\ud800": 1}', SURROGATE),
    "nested value": (
        '{"kind": "text", "prompt": "p", "loras": [{"lora": "ink", "weight": 1, "x": "\\ud800"}]}',
        "loras.0.x",
    ),
}


@pytest.mark.parametrize("case", sorted(JOB_BODIES))
def test_a_job_body_with_a_lone_surrogate_is_a_400_naming_the_place(api, case):
    body, place = JOB_BODIES[case]
    refused(post_raw(api, "/api/v1/jobs/", body), place)
    assert not GenerationJob.objects.exists()


@pytest.mark.parametrize("field", ["lora_type", "naming"])
def test_a_training_body_with_a_lone_surrogate_is_a_400(api, alice_things, field):
    character = alice_things["character"].id
    body = f'{{"character": "{character}", "trigger_word": "t", "{field}": "\\ud800"}}'
    refused(post_raw(api, "/api/v1/trainings/", body), field)
    assert not TrainingRun.objects.exists()


def test_a_staff_user_id_with_a_lone_surrogate_is_a_400(staff_api):
    body = '{"kind": "text", "prompt": "p", "user_id": "\\ud800"}'
    refused(post_raw(staff_api, "/api/v1/jobs/", body), "user_id")
    assert not GenerationJob.objects.exists()


def test_a_key_with_a_lone_surrogate_stores_no_character_and_the_list_keeps_working(api):
    # Was: a 500 on SQLite that stored the character, after which the list was a 500 for good.
    response = post_raw(
        api, "/api/v1/characters/", '{"name": "p", "scene_presets": {"\\ud800": "x"}}'
    )
    refused(response, f"scene_presets.{SURROGATE}")
    assert not Character.objects.exists()
    assert api.get("/api/v1/characters/").status_code == 200


def test_a_query_parameter_in_a_charset_that_decodes_to_a_surrogate_is_a_400(staff_api):
    # The request's charset decodes its query string: UTF-7 turns plain ASCII into U+D800.
    response = staff_api.generic(
        "GET", "/api/v1/jobs/?user_id=%2B2AA-", content_type="text/plain; charset=utf-7"
    )
    refused(response, "user_id")


def test_a_multipart_field_with_a_lone_surrogate_is_a_400(staff_api):
    body = b'--BB\r\nContent-Disposition: form-data; name="user_id"\r\n\r\n+2AA-\r\n--BB--\r\n'
    response = staff_api.generic(
        "POST",
        "/api/v1/uploads/",
        body,
        content_type="multipart/form-data; boundary=BB; charset=utf-7",
    )
    refused(response, "user_id")


def test_a_page_form_with_a_lone_surrogate_is_a_400_page_naming_the_field(alice):
    browser = Client()
    browser.force_login(alice)
    body = (
        b'--BB\r\nContent-Disposition: form-data; name="kind"\r\n\r\ntext\r\n'
        b'--BB\r\nContent-Disposition: form-data; name="prompt"\r\n\r\n+2AA-\r\n--BB--\r\n'
    )
    page = browser.generic(
        "POST", "/create/", body, content_type="multipart/form-data; boundary=BB; charset=utf-7"
    )
    assert page.status_code == 400
    html = page.content.decode("utf-8")
    assert "<strong>prompt</strong>" in html and "surrogate" in html
    assert not GenerationJob.objects.exists()
    query = browser.get("/create/?prompt=%2B2AA-", CONTENT_TYPE="text/plain; charset=utf-7")
    assert query.status_code == 400 and "<strong>prompt</strong>" in query.content.decode()


def test_every_json_writer_writes_valid_utf8_whatever_it_is_given():
    echoed = {"\ud800": ["\udfff is not a valid choice."]}
    body = error_body("invalid", "Invalid input. \ud800", echoed)
    assert json.loads(json.dumps(body, ensure_ascii=False).encode("utf-8"))  # encodable
    rendered = JSONRenderer().render({"scene_presets": {"\ud800": "x"}})
    assert json.loads(rendered.decode("utf-8")) == {"scene_presets": {"\ufffd": "x"}}
    text = json_dumps_safe({"message": "\ud800"}, ensure_ascii=False)
    assert json.loads(text.encode("utf-8")) == {"message": "\ufffd"}


def test_scene_names_stored_with_a_surrogate_before_are_repaired_by_a_migration(api, alice):
    from importlib import import_module

    from django.apps import apps
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("only SQLite could store such a key (PostgreSQL's jsonb refuses it)")
    Character.objects.create(owner=alice, name="Old", scene_presets={"\ud800": "x"})
    migration = import_module("characters.migrations.0004_scene_presets_without_surrogates")
    migration.replace_surrogates(apps, None)
    assert Character.objects.get().scene_presets == {"\ufffd": "x"}
    listed = api.get("/api/v1/characters/").json()["results"]
    assert listed[0]["scene_presets"] == {"\ufffd": "x"}
