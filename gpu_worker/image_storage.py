"""The files of a job's images: each PNG encoded with its WebP thumbnail and uploaded, and the
conditioning images (edge maps, depth maps) the engine drew from the control image. Storage is
Django's default storage (S3 in production); rows and when to write them are the storage
stage's (``serving.storage_stage``)."""

from __future__ import annotations

import io

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from generation.models import GeneratedImage, GenerationJob

from .failures import StorageError

THUMBNAIL_SIZE = (384, 384)


def store_images(
    job: GenerationJob,
    images: list[GeneratedImage],
    conditioning: list[tuple[str, Image.Image]],
) -> list[dict]:
    """Upload every image (its PIL picture in ``image._pil``) with its thumbnail onto the
    unsaved rows, then the conditioning images; returns the conditioning records
    ({"type", "key"}). On any failure what was stored is deleted and StorageError raised."""
    try:
        for image in images:
            image.file.save("image.png", ContentFile(png_bytes(image._pil)), save=False)
            image.thumbnail.save("thumb.webp", ContentFile(thumbnail_bytes(image._pil)), save=False)
        records = []
        for kind, control_image in conditioning:
            key = default_storage.save(
                f"generated/{job.id}/conditioning/{kind}.png",
                ContentFile(png_bytes(control_image)),
            )
            records.append({"type": kind, "key": key})
        return records
    except Exception as exc:
        delete_stored_files(images)
        raise StorageError(f"Could not store the generated images: {exc}") from exc


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def thumbnail_bytes(image: Image.Image) -> bytes:
    thumb = image.copy()
    thumb.thumbnail(THUMBNAIL_SIZE)
    buffer = io.BytesIO()
    thumb.save(buffer, format="WEBP", quality=82)
    return buffer.getvalue()


def delete_stored_files(images: list[GeneratedImage]) -> None:
    """Delete the PNG and thumbnail each image row points at (stored or not yet committed)."""
    for image in images:
        for stored in (image.file, image.thumbnail):
            if stored.name:
                stored.storage.delete(stored.name)
