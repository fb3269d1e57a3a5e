"""Parameters of the editing kinds (img2img, inpaint, upscale, face_repair): the source and
mask a job starts from, checked for ownership and size, and the mode's settings resolved."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from accounts.models import User
from core.errors import InvalidParams, NotFound

from .models import GeneratedImage, JobKind, Upload

MIN_SOURCE_SIDE = 64
DEFAULT_STRENGTH = {
    JobKind.IMG2IMG: 0.6,
    JobKind.INPAINT: 1.0,
    JobKind.UPSCALE: 0.3,  # a tiled upscale only refines: low strength keeps the picture
    JobKind.FACE_REPAIR: 0.5,
}
DEFAULT_MASK_BLUR = 8
DEFAULT_MASK_PADDING = 32
# Stored for the worker (and for reproducing the job) but derived, so a retry drops them.
DERIVED_PARAMS = {"width", "height", "source_width", "source_height", "tile_size", "tile_overlap"}


def _invalid(field: str, message: str) -> InvalidParams:
    return InvalidParams(f"{field}: {message}", {field: [message]})


def resolve_edit_params(owner: User, kind: str, requested: dict[str, Any]) -> dict[str, Any]:
    """The editing part of a job's params; raises naming the field (404 for another user's
    source or mask, which is never revealed to exist)."""
    field, source = _source(owner, requested)
    width, height = source.width, source.height
    if min(width, height) < MIN_SOURCE_SIDE or max(width, height) > settings.ILLU_EDIT_MAX_SIDE:
        raise _invalid(
            field,
            f"The source is {width}x{height}; sources must be {MIN_SOURCE_SIDE} to "
            f"{settings.ILLU_EDIT_MAX_SIDE} px a side.",
        )
    params: dict[str, Any] = {
        field: str(source.pk),
        "source_width": width,
        "source_height": height,
        "width": width,
        "height": height,
        "strength": requested.get("strength", DEFAULT_STRENGTH[kind]),
    }
    if kind == JobKind.INPAINT:
        params.update(_mask(owner, requested, width, height))
    if kind == JobKind.UPSCALE:
        scale = requested.get("scale", 2)
        if max(width, height) * scale > settings.ILLU_UPSCALE_MAX_SIDE:
            raise _invalid(
                "scale",
                f"{width}x{height} times {scale} is past the {settings.ILLU_UPSCALE_MAX_SIDE} px "
                "limit of an upscale; use scale 2 or a smaller source.",
            )
        params.update(
            scale=scale,
            width=width * scale,
            height=height * scale,
            upscale_method=requested.get("upscale_method", "tiled"),
            tile_size=settings.ILLU_UPSCALE_TILE_SIZE,
            tile_overlap=settings.ILLU_UPSCALE_TILE_OVERLAP,
        )
    if kind == JobKind.FACE_REPAIR:
        params["repair_size"] = settings.ILLU_FACE_REPAIR_SIZE
    return params


def _source(owner: User, requested: dict) -> tuple[str, GeneratedImage | Upload]:
    if requested.get("source_image"):
        image = GeneratedImage.objects.filter(
            pk=requested["source_image"], job__owner=owner
        ).first()
        if image is None:
            raise NotFound(
                "No such image among yours.", {"source_image": ["No such image among yours."]}
            )
        return "source_image", image
    if requested.get("source_upload"):
        upload = Upload.objects.filter(pk=requested["source_upload"], owner=owner).first()
        if upload is None:
            raise NotFound(
                "No such upload among yours.", {"source_upload": ["No such upload among yours."]}
            )
        return "source_upload", upload
    raise _invalid("source_image", "Editing jobs need source_image or source_upload.")


def _mask(owner: User, requested: dict, width: int, height: int) -> dict[str, Any]:
    mask: dict[str, Any] = {
        "mask_blur": requested.get("mask_blur", DEFAULT_MASK_BLUR),
        "mask_padding": requested.get("mask_padding", DEFAULT_MASK_PADDING),
    }
    if requested.get("mask_upload"):
        upload = Upload.objects.filter(pk=requested["mask_upload"], owner=owner).first()
        if upload is None:
            raise NotFound(
                "No such upload among yours.", {"mask_upload": ["No such upload among yours."]}
            )
        if (upload.width, upload.height) != (width, height):
            raise _invalid(
                "mask_upload",
                f"The mask is {upload.width}x{upload.height}; it must be the source's size, "
                f"{width}x{height}.",
            )
        mask["mask_upload"] = str(upload.pk)
        return mask
    polygon = requested.get("mask_polygon")
    if polygon is not None:
        if not all(0 <= x <= width and 0 <= y <= height for x, y in polygon):
            raise _invalid(
                "mask_polygon", f"Every point must lie inside the {width}x{height} source."
            )
        mask["mask_polygon"] = [[x, y] for x, y in polygon]
        return mask
    rect = requested.get("mask_rect")
    if rect is None:
        raise _invalid("mask_upload", "Inpaint jobs need mask_upload, mask_rect or mask_polygon.")
    x, y, w, h = rect
    if w < 1 or h < 1 or x < 0 or y < 0 or x + w > width or y + h > height:
        raise _invalid(
            "mask_rect",
            f"[{x}, {y}, {w}, {h}] is not a rectangle inside the {width}x{height} source.",
        )
    mask["mask_rect"] = [x, y, w, h]
    return mask
