"""URLs of stored files, minted per response: presigned on S3, /media/... locally."""

from __future__ import annotations

from django.core.files.storage import default_storage


def storage_url(name: str, request=None) -> str | None:
    """A URL minted now (presigned on S3, a media URL locally), absolute when a request is
    known; None for an empty file field."""
    if not name:
        return None
    url = default_storage.url(name)
    if request is not None and url.startswith("/"):
        return request.build_absolute_uri(url)
    return url


def media_url(name: str) -> str:
    """Minted per page view: presigned on S3, /media/... locally; empty for no file."""
    return default_storage.url(name) if name else ""
