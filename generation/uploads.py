"""Writes on uploads: images a user sends for later use (control images, photos)."""

from __future__ import annotations

from accounts.models import User
from core.image_input import png_content, read_uploaded_image
from core.stored_files import store_with_rows

from .models import Upload


def upload_create(*, owner: User, upload) -> Upload:
    """Decode the file by content (raising a DomainError naming ``image`` when it is not an
    accepted image), then store it re-encoded as PNG with its row (``store_with_rows``: the
    object goes again if the row does not commit). Nothing is stored when decoding fails."""
    image = read_uploaded_image(upload, field="image")
    record = Upload(owner=owner)
    store_with_rows([(record.image, "upload.png", png_content(image))], record.save)
    return record
