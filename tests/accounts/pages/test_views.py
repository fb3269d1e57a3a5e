"""The sign-in and avatar pages through Django's test client: who gets in, and the avatar
actions' effects (faces checked, own avatars only)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from accounts.models import Avatar
from tests import photos
from tests.fixtures.pages import field_block, png_bytes

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/gallery/", "/create/", "/characters/", "/avatars/"])
def test_anonymous_visitors_are_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_login_form_signs_in_and_home_leads_to_the_gallery(client, user):
    page = client.get("/login/")
    assert b'name="username"' in page.content and b"<title>Sign in" in page.content
    response = client.post("/login/", {"username": "alice", "password": "alice-password-1"})
    assert response.status_code == 302 and response["Location"] == "/gallery/"
    assert client.get("/")["Location"] == "/gallery/"
    assert client.get("/logout/").status_code == 200  # a button to sign out, not a sign-out
    assert client.get("/gallery/").status_code == 200
    assert client.post("/logout/")["Location"] == "/login/"
    assert client.get("/gallery/").status_code == 302


def test_wrong_password_is_shown_on_the_login_page(client, user):
    response = client.post("/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"enter a correct username and password" in response.content


def test_avatar_without_a_face_is_refused_unless_kept_on_purpose(browser_client, user):
    refused = browser_client.post("/avatars/", {"image": photos.upload_of(photos.no_face())})
    image_field = field_block(refused.content.decode(), "image")
    assert "Exactly one face is needed; no face was found." in image_field
    assert "Keep without a face" in refused.content.decode() and not Avatar.objects.exists()
    kept = browser_client.post(
        "/avatars/", {"image": photos.upload_of(photos.no_face()), "allow_no_face": "on"}
    )
    assert kept["Location"] == "/avatars/"
    avatar = Avatar.objects.get(owner=user)
    assert avatar.face_count == 0
    assert "no face found" in browser_client.get("/avatars/").content.decode()


def test_primary_and_delete_act_on_own_avatars_only(browser_client, user, make_user):
    def avatar(owner, primary=False) -> Avatar:
        row = Avatar(owner=owner, primary=primary, face_count=1)
        row.image.save("avatar.png", ContentFile(png_bytes()), save=False)
        row.width = row.height = 64
        row.save()
        return row

    first, second, theirs = avatar(user, primary=True), avatar(user), avatar(make_user("bob"))
    browser_client.post(f"/avatars/{second.id}/primary/")
    assert Avatar.objects.get(owner=user, primary=True) == second
    assert browser_client.post(f"/avatars/{theirs.id}/delete/").status_code == 404
    browser_client.post(f"/avatars/{first.id}/delete/")
    assert list(Avatar.objects.filter(owner=user)) == [second]
