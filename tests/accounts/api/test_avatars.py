"""Avatars: the first is primary, one primary per user, face block, deletion removes the file,
and staff acting for a user through ``user_id``."""

from __future__ import annotations

import pytest

from accounts.models import Avatar
from tests.fixtures.api import image_file, stored_keys
from tests.photos import astronaut, no_face, upload_of

pytestmark = pytest.mark.django_db


def add_avatar(client, **fields):
    # Plain pictures show no face: allowed explicitly (face detection has its own tests).
    response = client.post(
        "/api/v1/avatars/", {"image": image_file(), "allow_no_face": "true", **fields}
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_the_first_avatar_is_primary_and_a_later_one_can_take_over(api):
    first = add_avatar(api)
    second = add_avatar(api)
    assert first["primary"] and not second["primary"]
    third = add_avatar(api, primary="true")
    listed = api.get("/api/v1/avatars/").json()["results"]
    assert [item["id"] for item in listed if item["primary"]] == [third["id"]]

    response = api.post(f"/api/v1/avatars/{second['id']}/primary/")
    assert response.status_code == 200 and response.json()["primary"]
    assert Avatar.objects.get(primary=True).pk == Avatar.objects.get(pk=second["id"]).pk


def test_face_block_reads_the_detection_fields(api):
    body = add_avatar(api)
    assert set(body["face"]) == {"detected", "score", "count"}
    Avatar.objects.filter(pk=body["id"]).update(face_count=1, face_score=0.93)
    assert api.get(f"/api/v1/avatars/{body['id']}/").json()["face"] == {
        "detected": True,
        "score": 0.93,
        "count": 1,
    }
    Avatar.objects.filter(pk=body["id"]).update(face_count=2)
    assert api.get(f"/api/v1/avatars/{body['id']}/").json()["face"]["detected"] is False


def test_delete_removes_the_row_and_the_file(api, django_capture_on_commit_callbacks):
    body = add_avatar(api)
    assert len(stored_keys("avatars/")) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/v1/avatars/{body['id']}/").status_code == 204
    assert not Avatar.objects.exists() and stored_keys("avatars/") == []
    assert api.get(f"/api/v1/avatars/{body['id']}/").status_code == 404


def test_bad_primary_value_is_400_naming_it(api):
    response = api.post("/api/v1/avatars/", {"image": image_file(), "primary": "maybe"})
    assert response.status_code == 400
    assert "primary" in response.json()["error"]["fields"]
    assert not Avatar.objects.exists() and stored_keys() == []


def test_staff_acts_for_a_user_with_user_id(staff_api, alice, api):
    created = staff_api.post(
        "/api/v1/avatars/",
        {"image": image_file(), "user_id": "alice", "allow_no_face": "true"},
        format="multipart",
    )
    assert created.status_code == 201
    assert Avatar.objects.get(pk=created.json()["id"]).owner == alice
    listed = staff_api.get("/api/v1/avatars/?user_id=alice").json()
    assert [item["id"] for item in listed["results"]] == [created.json()["id"]]
    assert staff_api.get("/api/v1/avatars/").json()["count"] == 0  # staff's own: none
    assert api.get("/api/v1/avatars/").json()["count"] == 1


def test_non_staff_passing_user_id_is_403_even_for_themselves(api):
    response = api.get("/api/v1/avatars/?user_id=alice")
    assert response.status_code == 403
    assert "user_id" in response.json()["error"]["message"]
    response = api.post("/api/v1/avatars/", {"image": image_file(), "user_id": "alice"})
    assert response.status_code == 403
    assert not Avatar.objects.exists() and stored_keys() == []


def test_staff_naming_an_unknown_user_gets_404_naming_user_id(staff_api):
    for response in (
        staff_api.get("/api/v1/avatars/?user_id=nobody"),
        staff_api.post("/api/v1/avatars/", {"image": image_file(), "user_id": "nobody"}),
    ):
        assert response.status_code == 404
        error = response.json()["error"]
        assert error["code"] == "not_found" and "user_id" in error["message"]
        assert "user_id" in error["fields"]
    assert not Avatar.objects.exists() and stored_keys() == []


def test_a_photo_with_one_face_is_detected_and_one_without_is_refused(api):
    response = api.post("/api/v1/avatars/", {"image": upload_of(astronaut())})
    assert response.status_code == 201, response.json()
    face = response.json()["face"]
    assert face["detected"] is True and face["count"] == 1 and face["score"] is not None

    response = api.post("/api/v1/avatars/", {"image": upload_of(no_face())})
    assert response.status_code == 400
    assert "image" in response.json()["error"]["fields"]
    assert Avatar.objects.count() == 1 and len(stored_keys("avatars/")) == 1
