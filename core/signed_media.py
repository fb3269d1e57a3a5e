"""Local-storage media behind signed, expiring URLs, as presigned S3 URLs are: the storage's
``url()`` mints ``/media/<key>?expires=<unix time>&signature=<sig>`` (django.core.signing,
keyed by SECRET_KEY), and the media view serves a file only for an untampered, unexpired
signature. A deleted file is a 404 whatever its link says, so deleting revokes every link."""

from __future__ import annotations

import time
from urllib.parse import quote, urlencode

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages
from django.core.signing import Signer
from django.http import Http404, HttpResponseForbidden
from django.utils.crypto import constant_time_compare
from django.views.static import serve

_SALT = "illuplatform.media"


def _signature(name: str, expires: int) -> str:
    return Signer(salt=_SALT).signature(f"{name}\n{expires}")


class SignedFileSystemStorage(FileSystemStorage):
    """FileSystemStorage whose URLs are signed and expire after ILLU_MEDIA_URL_EXPIRE seconds
    (``expire`` overrides it, as S3Storage.url does)."""

    def url(self, name, expire: int | None = None):
        if name is None:
            raise ValueError("This file is not accessible via a URL.")
        name = name.replace("\\", "/").lstrip("/")
        lifetime = settings.ILLU_MEDIA_URL_EXPIRE if expire is None else expire
        expires = int(time.time()) + lifetime
        query = urlencode({"expires": expires, "signature": _signature(name, expires)})
        return f"{settings.MEDIA_URL}{quote(name)}?{query}"


def serve_signed_media(request, path: str):
    """403 for a missing, tampered or expired signature; 404 for a file that is gone."""
    storage = storages["default"]
    if not isinstance(storage, SignedFileSystemStorage):
        raise Http404("Media is served from object storage.")
    try:
        expires = int(request.GET.get("expires", ""))
    except ValueError:
        return HttpResponseForbidden("This media link is not signed.")
    signature = request.GET.get("signature", "")
    if not constant_time_compare(_signature(path, expires), signature):
        return HttpResponseForbidden("This media link's signature is not valid.")
    remaining = expires - int(time.time())
    if remaining < 0:
        return HttpResponseForbidden("This media link has expired.")
    response = serve(request, path, document_root=storage.location)
    response["Cache-Control"] = f"private, max-age={remaining}"
    return response
