"""Image uploads (uploads, avatars, references): accepted by content, stored re-encoded, and
every bad file answered with its own status, a message naming the field, and nothing stored."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import Avatar
from characters.models import ReferenceImage
from characters.services import character_create
from generation.models import Upload
from tests.fixtures.api import BAD_IMAGES, image_bytes, image_file, stored_keys

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    "uploads": ("/api/v1/uploads/", Upload),
    "avatars": ("/api/v1/avatars/", Avatar),
    "references": ("/api/v1/characters/{character}/references/", ReferenceImage),
}
# Plain test pictures show no face; avatars then need the client's explicit consent.
EXTRA_FIELDS = {"avatars": {"allow_no_face": "true"}}


@pytest.fixture
def character(alice):
    return character_create(owner=alice, name="Luca")


def url_for(kind, character):
    return ENDPOINTS[kind][0].format(character=character.pk)


@pytest.mark.parametrize("kind", ENDPOINTS)
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_an_image_is_stored_as_png_and_its_url_serves_it(api, character, kind, fmt):
    response = api.post(
        url_for(kind, character),
        {
            "image": SimpleUploadedFile("x.bin", image_bytes((40, 30), fmt)),
            **EXTRA_FIELDS.get(kind, {}),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["url"].startswith("http")
    [key] = stored_keys()
    # Keys are the server's, never the client's file name.
    assert key.endswith(".png") and "x.bin" not in key
    model = ENDPOINTS[kind][1]
    row = model.objects.get(pk=body["id"])
    with row.image.open("rb") as handle:
        stored = Image.open(io.BytesIO(handle.read()))
    assert stored.format == "PNG" and stored.size == (40, 30)
    if kind == "uploads":
        assert (body["width"], body["height"]) == (40, 30)


def test_upload_detail_mints_a_url_per_response(api, alice):
    upload_id = api.post("/api/v1/uploads/", {"image": image_file()}, format="multipart").json()[
        "id"
    ]
    body = api.get(f"/api/v1/uploads/{upload_id}/").json()
    assert body["id"] == upload_id and body["url"].startswith("http")
    assert (body["width"], body["height"]) == (64, 48)


@pytest.mark.parametrize("kind", ENDPOINTS)
@pytest.mark.parametrize("bad", BAD_IMAGES)
def test_bad_files_get_their_code_a_message_naming_the_field_and_store_nothing(
    api, character, kind, bad
):
    data, status, code = BAD_IMAGES[bad]
    response = api.post(
        url_for(kind, character),
        {
            "image": SimpleUploadedFile("photo.png", data, content_type="image/png"),
            **EXTRA_FIELDS.get(kind, {}),
        },
        format="multipart",
    )
    assert response.status_code == status, response.json()
    error = response.json()["error"]
    assert error["code"] == code
    assert "image" in error["message"] and "image" in error["fields"]
    assert ENDPOINTS[kind][1].objects.count() == 0
    assert stored_keys() == []


@pytest.mark.parametrize("kind", ENDPOINTS)
def test_a_file_over_the_size_cap_is_413_and_stores_nothing(api, character, kind, settings):
    settings.ILLU_UPLOAD_MAX_BYTES = 2000
    data = image_bytes((8, 8), "PNG") + b"\0" * 2001  # a valid image, padded past the cap
    response = api.post(
        url_for(kind, character),
        {"image": SimpleUploadedFile("big.png", data)},
        format="multipart",
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "too_large" and "image" in error["fields"]
    assert ENDPOINTS[kind][1].objects.count() == 0 and stored_keys() == []


@pytest.mark.parametrize("kind", ENDPOINTS)
def test_a_body_over_the_request_cap_is_refused_before_it_is_read(api, character, kind, settings):
    settings.ILLU_UPLOAD_MAX_BYTES = 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post(
        url_for(kind, character),
        {"image": SimpleUploadedFile("huge.png", b"\0" * 50_000)},
        format="multipart",
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert "limit" in response.json()["error"]["message"]
    assert ENDPOINTS[kind][1].objects.count() == 0 and stored_keys() == []


@pytest.mark.parametrize("kind", ENDPOINTS)
def test_missing_file_and_unknown_fields_are_400_naming_them(api, character, kind):
    response = api.post(url_for(kind, character), {"colour": "red"}, format="multipart")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert "image" in fields and "colour" in fields


@pytest.mark.parametrize("kind", ENDPOINTS)
def test_json_instead_of_multipart_is_415(api, character, kind):
    response = api.post(url_for(kind, character), {"image": "abc"}, format="json")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media"


def test_exif_location_does_not_survive(api):
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x8825] = {2: (52.0, 22.0, 0.0)}  # GPS IFD: latitude
    Image.new("RGB", (32, 32)).save(buffer, format="JPEG", exif=exif)
    body = api.post(
        "/api/v1/uploads/", {"image": SimpleUploadedFile("p.jpg", buffer.getvalue())}
    ).json()
    with Upload.objects.get(pk=body["id"]).image.open("rb") as handle:
        stored = Image.open(io.BytesIO(handle.read()))
    assert not stored.getexif() and "exif" not in stored.info
