"""Admin forms: uploads go through the services; what they refuse shows on the form."""

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import ApiToken, Avatar, hash_token
from tests.fixtures.admin import png_upload

pytestmark = pytest.mark.django_db


def test_api_token_add_shows_the_key_once_and_stores_its_hash(staff_client, user):
    response = staff_client.post(
        reverse("admin:accounts_apitoken_add"), {"user": str(user.pk), "name": "ops"}, follow=True
    )
    (text,) = [str(m) for m in response.context["messages"] if "copy it now" in str(m)]
    raw_key = text.split(": ", 1)[1].split(" ")[0]
    token = ApiToken.objects.get(name="ops")
    assert token.key_hash == hash_token(raw_key) and token.user == user


def test_avatar_add_goes_through_the_service_and_shows_its_refusals(staff_client, user):
    url = reverse("admin:accounts_avatar_add")

    def add(upload, **extra):
        return staff_client.post(url, {"owner": str(user.pk), "image": upload, **extra})

    not_image = add(SimpleUploadedFile("a.png", b"not an image at all"))
    assert "not an image" in " ".join(not_image.context["adminform"].form.errors["image"])
    faceless = add(png_upload())
    assert "exactly one face" in " ".join(faceless.context["adminform"].form.errors["image"])
    assert not Avatar.objects.exists()

    assert add(png_upload(), allow_no_face="on").status_code == 302
    avatar = Avatar.objects.get(owner=user)
    assert avatar.primary and avatar.face_count == 0  # kept, marked as having no face
    assert default_storage.exists(avatar.image.name)
