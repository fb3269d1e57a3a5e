"""One parsing rule over every endpoint, generated from the OpenAPI schema: each operation
that takes a body refuses a body that is not a JSON object (array, string, number, null) and
every property given the wrong JSON type (``"5"`` for a number, ``5`` for a string), with a
400 naming the field and nothing stored. A new endpoint joins this test by being in the
schema; a path parameter nobody can fill fails it, so new ones must be added below."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator

from accounts.models import Avatar
from accounts.services import avatar_create
from books.services import book_create, page_create
from characters.models import Character
from characters.services import character_create, reference_add
from generation.models import GenerationJob
from generation.uploads import upload_create
from tests.conftest import client_for
from tests.fixtures.api import image_file, make_generated_image

pytestmark = pytest.mark.django_db

BODY_METHODS = ("post", "put", "patch")
NOT_OBJECTS = [[], [{"kind": "text"}], "text", None, 5, 1.5, True]
WRONG_TYPE = {"integer": "5", "number": "0.5", "boolean": "true", "string": 5, "array": "x"}


@pytest.fixture
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture
def path_values(staff) -> dict[str, str]:
    """One object of each kind a body-taking path names, owned by the staff caller (staff
    reach every endpoint, so none answers 403 before reading its body)."""
    from datetime import timedelta

    from django.utils import timezone

    from books.models import ShareLink
    from exports.services import export_create

    character = character_create(owner=staff, name="Strict")
    image = make_generated_image(staff, character=character)
    book = book_create(owner=staff, title="Strict")
    link = ShareLink.objects.create(
        book=book, label="x", token_hash="0" * 64, expires_at=timezone.now() + timedelta(days=1)
    )
    return {
        "book_id": str(book.id),
        "page_id": str(page_create(book=book, prompt="a page").id),
        "link_id": str(link.id),
        "export_id": str(export_create(book=book, format="zip").id),
        "character_id": str(character.id),
        "reference_id": str(reference_add(character=character, upload=image_file()).id),
        "avatar_id": str(avatar_create(owner=staff, upload=image_file(), allow_no_face=True).id),
        "upload_id": str(upload_create(owner=staff, upload=image_file()).id),
        "job_id": str(image.job_id),
        "image_id": str(image.id),
    }


def body_operations(schema: dict) -> Iterator[tuple[str, str, dict]]:
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method in BODY_METHODS and operation.get("requestBody"):
                yield method, path, operation


def fill(path: str, operation: dict, values: dict[str, str]) -> str:
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            name = parameter["name"]
            assert name in values, f"{path}: no test object for path parameter {name!r}"
            path = path.replace("{" + name + "}", values[name])
    return path


def resolve(schema: dict, node: dict) -> dict:
    """Follow $ref, single allOf and nullable oneOf/anyOf down to a concrete schema."""
    while True:
        if "$ref" in node:
            node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
        elif len(node.get("allOf", [])) == 1:
            node = node["allOf"][0]
        elif "oneOf" in node or "anyOf" in node:
            options = node.get("oneOf") or node.get("anyOf")
            node = next(o for o in options if o.get("type") != "null" and "enum" not in o or o)
            if "$ref" not in node and "allOf" not in node:
                return node
        else:
            return node


def json_type(node: dict) -> str | None:
    if "enum" in node and "type" not in node:
        return "string"
    return node.get("type")


def wrong_typed_bodies(schema: dict, node: dict, prefix: str = "") -> Iterator[tuple]:
    """(body, field path) for each property of an object schema, nested ones included."""
    node = resolve(schema, node)
    for name, prop in node.get("properties", {}).items():
        if prop.get("readOnly"):
            continue
        prop = resolve(schema, prop)
        kind = json_type(prop)
        field = f"{prefix}{name}"
        if kind == "object":
            yield {name: "x"}, field
            for inner, inner_field in wrong_typed_bodies(schema, prop, f"{field}."):
                yield {name: inner}, inner_field
        elif kind == "array":
            yield {name: "x"}, field
            items = resolve(schema, prop.get("items", {}))
            if json_type(items) == "object":
                for inner, inner_field in wrong_typed_bodies(schema, items, f"{field}."):
                    yield {name: [inner]}, inner_field
            elif json_type(items) in WRONG_TYPE:
                yield {name: [WRONG_TYPE[json_type(items)]]}, field
        elif kind in WRONG_TYPE:
            yield {name: WRONG_TYPE[kind]}, field


def without_positions(key: str) -> str:
    """`loras.0.weight` -> `loras.weight`: list positions are not part of the field."""
    return ".".join(part for part in key.split(".") if not part.isdigit())


def stored_counts() -> tuple[int, ...]:
    return (GenerationJob.objects.count(), Character.objects.count(), Avatar.objects.count())


def assert_error(response, status: tuple[int, ...], label: str) -> dict:
    assert response.status_code in status, f"{label}: {response.status_code} {response.content!r}"
    assert response["Content-Type"] == "application/json", label
    error = response.json()["error"]
    assert error["code"] and error["message"], label
    return error


def test_the_schema_lists_every_writing_endpoint_of_the_url_resolver(schema):
    # What the tests below iterate is complete: no routed write hides from the schema.
    routed = {
        (path, method.lower())
        for path, _, method, _ in EndpointEnumerator().get_api_endpoints()
        if method.lower() in BODY_METHODS
    }
    documented = {
        (path, method)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in BODY_METHODS
    }
    assert routed == documented and len(routed) >= 15


def test_every_body_that_is_not_a_json_object_is_a_400(schema, staff, path_values):
    client = client_for(staff)
    before = stored_counts()
    checked = 0
    for method, path, operation in body_operations(schema):
        url = fill(path, operation, path_values)
        takes_json = "application/json" in operation["requestBody"]["content"]
        for body in NOT_OBJECTS:
            label = f"{method.upper()} {path} with {json.dumps(body)}"
            response = getattr(client, method)(
                url, json.dumps(body), content_type="application/json"
            )
            # A multipart-only endpoint refuses any JSON as the wrong media type.
            expected = (400,) if takes_json else (415,)
            error = assert_error(response, expected, label)
            assert error["code"] == ("invalid" if takes_json else "unsupported_media"), label
            checked += 1
    assert checked >= 12 * len(NOT_OBJECTS)
    assert stored_counts() == before


def test_every_property_of_the_wrong_json_type_is_a_400_naming_it(schema, staff, path_values):
    client = client_for(staff)
    before = stored_counts()
    checked = set()
    for method, path, operation in body_operations(schema):
        content = operation["requestBody"]["content"]
        if "application/json" not in content:
            continue
        url = fill(path, operation, path_values)
        for body, field in wrong_typed_bodies(schema, content["application/json"]["schema"]):
            label = f"{method.upper()} {path} with {json.dumps(body)}"
            response = getattr(client, method)(
                url, json.dumps(body), content_type="application/json"
            )
            error = assert_error(response, (400,), label)
            named = [key for key in error.get("fields", {}) if without_positions(key) == field]
            assert named, f"{label}: {field} not named in {error}"
            checked.add(f"{method} {path} {field}")
    # The job body alone has integers, numbers, booleans, strings, lists and nested objects.
    assert "post /api/v1/jobs/ steps" in checked
    assert "post /api/v1/jobs/ consistency.threshold" in checked
    assert "post /v1/images/memory num_inference_steps" in checked
    assert len(checked) >= 40
    assert stored_counts() == before


def test_a_string_number_on_jobs_is_refused(api):
    # The finding: "steps": "5" was accepted (201).
    response = api.post(
        "/api/v1/jobs/", {"kind": "text", "prompt": "x", "steps": "5"}, format="json"
    )
    assert response.status_code == 400
    assert "steps" in response.json()["error"]["fields"]
    assert not GenerationJob.objects.exists()


def test_a_json_array_to_jobs_is_a_400_not_a_500(api):
    # The finding: a 500 with an HTML traceback ('list' object has no attribute 'items').
    api.raise_request_exception = False
    response = api.post("/api/v1/jobs/", [{"kind": "text", "prompt": "x"}], format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert not GenerationJob.objects.exists()


def test_a_multipart_job_body_with_a_file_is_a_400_not_a_crash(api):
    api.raise_request_exception = False
    body = {"kind": "text", "prompt": "x", "image": image_file()}
    response = api.post("/api/v1/jobs/", body, format="multipart")
    assert response.status_code == 400 and "image" in response.json()["error"]["fields"]


def test_form_bodies_keep_form_coercion(api, empty_queues):
    # Forms carry only strings: the JSON rule must not refuse them.
    response = api.post("/api/v1/jobs/", {"kind": "text", "prompt": "x", "steps": "5"})
    assert response.status_code == 201, response.content
    assert response.json()["params"]["steps"] == 5
