"""Untrusted image uploads: accepted by content (PNG, JPEG, WebP), size-capped, checked
against decompression bombs, and re-encoded so no metadata (EXIF location) survives."""

from __future__ import annotations

import io
import warnings

from django.conf import settings
from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import DomainError

from .image_truncation import truncation_of

ACCEPTED_FORMATS = {"PNG", "JPEG", "WEBP"}


class ImageTooLarge(DomainError):
    status_code = 413
    code = "too_large"


class UnsupportedImage(DomainError):
    status_code = 415
    code = "unsupported_media"


class InvalidImage(DomainError):
    code = "invalid"


class CorruptImage(InvalidImage):
    """Truncated or undecodable: the file's own fault, whatever size it declares."""

    code = "invalid_image"


def read_uploaded_image(upload, *, field: str = "image") -> Image.Image:
    """Decode an upload fully or raise a DomainError that names ``field``."""
    if upload is None:
        raise InvalidImage(f"No file in field {field!r}.", {field: ["This field is required."]})
    limit = settings.ILLU_UPLOAD_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise ImageTooLarge(
            f"{field}: the file is {upload.size} bytes; the limit is {limit} bytes.",
            {field: [f"At most {limit} bytes."]},
        )
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ImageTooLarge(f"{field}: the file exceeds {limit} bytes.", {field: ["Too large."]})
    truncation = truncation_of(data)
    if truncation:
        raise CorruptImage(
            f"{field}: the image is truncated ({truncation}).",
            {field: ["Corrupt or truncated image."]},
        )
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x its pixel limit; treat that as a bomb too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise UnsupportedImage(
                    f"{field}: {image.format} images are not accepted; send PNG, JPEG or WebP.",
                    {field: ["Unsupported image format."]},
                )
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge(
            f"{field}: the image has too many pixels (decompression bomb protection).",
            {field: ["Too many pixels."]},
        )
    except UnidentifiedImageError:
        raise UnsupportedImage(
            f"{field}: the file is not an image (PNG, JPEG or WebP expected).",
            {field: ["Not an image."]},
        )
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptImage(
            f"{field}: the image could not be decoded ({exc}); it may be truncated.",
            {field: ["Corrupt or truncated image."]},
        )
    return ImageOps.exif_transpose(image)


def png_content(image: Image.Image) -> ContentFile:
    """Re-encode as PNG without metadata."""
    mode = "RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB"
    buffer = io.BytesIO()
    image.convert(mode).save(buffer, format="PNG")
    return ContentFile(buffer.getvalue(), name="image.png")
