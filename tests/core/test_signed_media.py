"""Local-storage media is served only through signed, expiring URLs, as presigned S3 URLs
are: the URL an API response mints works (for anyone holding it, like an S3 link) until it
expires; a plain path, a tampered or expired link, and a link to a deleted file do not."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from illuplatform.settings.base import build_storages
from tests.fixtures.api import image_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def local_storage(settings):
    settings.STORAGE_BACKEND = "local"
    settings.STORAGES = build_storages("local")


@pytest.fixture
def uploaded(api, local_storage) -> tuple[str, str]:
    """(the minted URL's path and query, the stored key) of one upload."""
    body = api.post("/api/v1/uploads/", {"image": image_file()}, format="multipart").json()
    url = urlsplit(body["url"])
    key = url.path.removeprefix("/media/")
    return f"{url.path}?{url.query}", key


def fetch(url: str):
    return APIClient().get(url)  # no credentials: the signature is the permission


def with_query(url: str, **changes) -> str:
    path, _, query = url.partition("?")
    params = {name: values[0] for name, values in parse_qs(query).items()}
    params.update(changes)
    return f"{path}?{urlencode(params)}"


def test_a_minted_url_serves_the_file(uploaded):
    url, key = uploaded
    response = fetch(url)
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    assert content.startswith(b"\x89PNG") and content == default_storage.open(key).read()
    assert response["Cache-Control"].startswith("private")


def test_a_plain_media_path_is_refused(uploaded):
    # The finding: /media/<key> was served to anyone, forever.
    url, _ = uploaded
    assert fetch(url.partition("?")[0]).status_code == 403


def test_tampered_links_are_refused(uploaded, api):
    url, _ = uploaded
    signature = parse_qs(url.partition("?")[2])["signature"][0]
    forged = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    assert fetch(with_query(url, signature=forged)).status_code == 403
    expires = int(parse_qs(url.partition("?")[2])["expires"][0])
    assert fetch(with_query(url, expires=expires + 86400)).status_code == 403  # extended
    other = api.post("/api/v1/uploads/", {"image": image_file()}, format="multipart").json()
    other_path = urlsplit(other["url"]).path
    assert fetch(f"{other_path}?{url.partition('?')[2]}").status_code == 403  # another key


def test_an_expired_link_is_refused(uploaded):
    _, key = uploaded
    expired = default_storage.url(key, expire=-1)
    assert fetch(expired).status_code == 403
    assert fetch(default_storage.url(key)).status_code == 200


def test_a_deleted_file_is_404_through_any_link(uploaded):
    url, key = uploaded
    default_storage.delete(key)
    assert fetch(url).status_code == 404


def test_the_lifetime_is_a_setting(local_storage, settings):
    settings.ILLU_MEDIA_URL_EXPIRE = 120
    url = default_storage.url("uploads/some-key.png")
    lifetime = int(parse_qs(urlsplit(url).query)["expires"][0]) - time.time()
    assert 60 < lifetime <= 120


def test_with_s3_storage_the_media_route_serves_nothing(uploaded, settings):
    url, _ = uploaded
    settings.STORAGES = build_storages("s3")
    assert fetch(url).status_code == 404
