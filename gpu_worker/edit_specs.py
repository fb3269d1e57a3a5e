"""The editing part of a job's engine spec: source and mask images from storage, the mode's
settings from the resolved params, and face boxes from the identity backend."""

from __future__ import annotations

from dataclasses import replace

from generation.models import GeneratedImage, Upload

from .assets import AssetMissing, storage_image
from .engine.face_loop import detect_face_boxes
from .engine.masks import as_mask, polygon_mask, rect_mask
from .engine.spec import GenerationSpec


def source_image(params: dict):
    if params.get("source_image"):
        row = GeneratedImage.objects.filter(pk=params["source_image"]).first()
        name = row.file.name if row else ""
    else:
        row = Upload.objects.filter(pk=params.get("source_upload")).first()
        name = row.image.name if row else ""
    if row is None:
        raise AssetMissing("The source image of this job was deleted.")
    return storage_image(name, "source")


def mask_image(params: dict, size: tuple[int, int]):
    if params.get("mask_upload"):
        upload = Upload.objects.filter(pk=params["mask_upload"]).first()
        if upload is None:
            raise AssetMissing("The mask of this job was deleted.")
        from django.core.files.storage import default_storage
        from PIL import Image

        with default_storage.open(upload.image.name, "rb") as handle:
            mask = Image.open(handle)
            mask.load()
        return as_mask(mask)
    if params.get("mask_polygon"):
        return polygon_mask(size, [tuple(point) for point in params["mask_polygon"]])
    return rect_mask(size, tuple(params["mask_rect"]))


def with_edit(spec: GenerationSpec, kind: str, params: dict) -> GenerationSpec:
    source = source_image(params)
    changes: dict = {"mode": kind, "source": source, "strength": params["strength"]}
    if kind == "inpaint":
        changes.update(
            mask=mask_image(params, source.size),
            mask_blur=params["mask_blur"],
            mask_padding=params["mask_padding"],
        )
    if kind == "upscale":
        changes.update(
            scale=params["scale"],
            upscale_method=params["upscale_method"],
            tile_size=params["tile_size"],
            tile_overlap=params["tile_overlap"],
        )
    if kind == "face_repair":
        from .scoring import face_embedder

        changes.update(
            face_boxes=detect_face_boxes(face_embedder(), source),
            repair_size=params["repair_size"],
        )
    return replace(spec, **changes)
