"""Writes on uploads: images a user sends for later use (control images, photos)."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from core.image_input import png_content, read_uploaded_image

from .models import Upload


@transaction.atomic
def upload_create(*, owner: User, upload) -> Upload:
    """Decode the file by content (raising a DomainError naming ``image`` when it is not an
    accepted image), then store it re-encoded as PNG. Nothing is stored when decoding fails."""
    image = read_uploaded_image(upload, field="image")
    record = Upload(owner=owner)
    record.image.save("upload.png", png_content(image), save=False)
    try:
        record.save()
    except Exception:
        record.image.delete(save=False)
        raise
    return record
