"""Image plumbing of the compatibility APIs: base64 in and out, OpenAI's mask convention,
and fitting a source to the size a client asked for. Pure PIL; every failure is a
DomainError naming the client's field."""

from __future__ import annotations

import base64
import binascii
import io

from django.core.files.base import ContentFile
from PIL import Image, ImageOps

from core.errors import InvalidParams
from core.image_input import png_content, read_uploaded_image

# AUTOMATIC1111's resize_mode: 0 just resize, 1 crop and resize, 2 resize and fill, 3 latent
# upscale (a plain resize here).
RESIZE_MODES = (0, 1, 2, 3)
OUTPUT_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


def invalid(field: str, message: str) -> InvalidParams:
    return InvalidParams(f"{field}: {message}", {field: [message]})


def base64_upload(data: str, *, field: str) -> ContentFile:
    """A base64 image (raw, or a ``data:image/...;base64,`` URL, as A1111 clients send) as
    an in-memory file for the upload checks; its content is checked by those."""
    payload = data.split(",", 1)[1] if data.startswith("data:") else data
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(field, "Not valid base64.")
    return ContentFile(raw, name="image")


def read_image(upload, *, field: str) -> Image.Image:
    """Decode an uploaded or base64 image with the platform's checks (content type, size,
    truncation, bombs), naming ``field``."""
    return read_uploaded_image(upload, field=field)


def fitted(image: Image.Image, size: tuple[int, int] | None, *, mode: int = 0) -> Image.Image:
    """``image`` at ``size`` (width, height) the way A1111's resize_mode says; unchanged when
    ``size`` is None or already the image's size."""
    if size is None or image.size == size:
        return image
    if mode == 1:
        return ImageOps.fit(image, size, Image.Resampling.LANCZOS)
    if mode == 2:
        return ImageOps.pad(image, size, Image.Resampling.LANCZOS)
    return image.resize(size, Image.Resampling.LANCZOS)


def fitted_mask(mask: Image.Image, size: tuple[int, int] | None, *, mode: int = 0) -> Image.Image:
    """A mask fitted like its source, kept black and white."""
    if size is None or mask.size == size:
        return mask
    if mode == 1:
        resized = ImageOps.fit(mask, size, Image.Resampling.NEAREST)
    elif mode == 2:
        resized = ImageOps.pad(mask, size, Image.Resampling.NEAREST, color=0)
    else:
        resized = mask.resize(size, Image.Resampling.NEAREST)
    return resized.point(lambda value: 255 if value >= 128 else 0)


def as_png_file(image: Image.Image) -> ContentFile:
    """An image as a PNG file for the platform's upload service."""
    return png_content(image)


def mask_from_transparency(mask: Image.Image, *, source_size: tuple[int, int]) -> Image.Image:
    """OpenAI's convention (the mask's fully transparent pixels mark what to repaint) as the
    platform's (white = repaint). The mask must have an alpha channel and the image's size."""
    if mask.size != source_size:
        raise invalid(
            "mask",
            f"The mask is {mask.size[0]}x{mask.size[1]}; it must be the image's size, "
            f"{source_size[0]}x{source_size[1]}.",
        )
    if "A" not in mask.getbands() and not (mask.mode == "P" and "transparency" in mask.info):
        raise invalid(
            "mask", "The mask needs an alpha channel: its transparent pixels mark what to edit."
        )
    alpha = mask.convert("RGBA").getchannel("A")
    repaint = alpha.point(lambda value: 255 if value == 0 else 0)
    if repaint.getbbox() is None:
        raise invalid("mask", "The mask has no fully transparent pixel: nothing to edit.")
    return repaint


def mask_from_white(mask: Image.Image, *, invert: bool = False) -> Image.Image:
    """AUTOMATIC1111's convention (white = repaint, or black with inpainting_mask_invert)
    as the platform's, black and white."""
    gray = mask.convert("L")
    if invert:
        gray = ImageOps.invert(gray)
    return gray.point(lambda value: 255 if value >= 128 else 0)


def encoded(data: bytes, *, output_format: str = "png", compression: int | None = None) -> str:
    """Stored PNG bytes as base64 in ``output_format`` (png, jpeg or webp; ``compression``
    0-100 is the JPEG/WebP quality)."""
    if output_format == "png":
        return base64.b64encode(data).decode()
    image = Image.open(io.BytesIO(data))
    buffer = io.BytesIO()
    quality = 100 - compression if compression is not None else 90
    image.convert("RGB").save(buffer, format=OUTPUT_FORMATS[output_format], quality=quality)
    return base64.b64encode(buffer.getvalue()).decode()


def preview_as_png(data_url: str) -> str | None:
    """A live preview (a ``data:image/jpeg;base64,...`` URL) as raw base64 PNG, the way A1111
    sends ``current_image``; None when it cannot be read."""
    try:
        raw = base64.b64decode(data_url.split(",", 1)[1])
        image = Image.open(io.BytesIO(raw))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
    except (IndexError, binascii.Error, OSError, ValueError):
        return None
    return base64.b64encode(buffer.getvalue()).decode()
