"""OpenAI requests as platform jobs: which job body each operation means."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings

from core.errors import InvalidParams

from ..images import fitted, fitted_mask, mask_from_transparency, read_image
from ..model_lookup import ModelChoice, resolve_model
from ..platform import JobKind
from ..services import JobPlan
from .errors import ModelNotFound

# OpenAI's qualities (GPT image, dall-e-3) -> the platform's quality presets; None: the
# model's own (its style preset's, else the platform default).
QUALITY_PRESETS = {
    "low": "draft",
    "medium": "standard",
    "standard": "standard",
    "high": "high",
    "hd": "high",
    "xhigh": "ultra",
    "max": "ultra",
    "auto": None,
}
# A variation has no prompt in OpenAI's API; the platform's img2img needs one.
VARIATION_PROMPT = "a variation of this image, same subject, composition and colours"
_SIZE = re.compile(r"^(\d{1,5})x(\d{1,5})$")

# Platform field -> the OpenAI request field it came from (for error messages).
CLIENT_FIELDS = {
    "num_images": "n",
    "width": "size",
    "height": "size",
    "source_upload": "image",
    "mask_upload": "mask",
    "quality": "quality",
    "style": "style_preset",
    "model": "model",
}


def _invalid(field: str, message: str) -> InvalidParams:
    return InvalidParams(f"{field}: {message}", {field: [message]})


def requested_size(value: str | None) -> tuple[int, int] | None:
    """``WIDTHxHEIGHT`` as (width, height); None for auto or nothing. The platform checks the
    range and the multiples of 8."""
    if value in (None, "", "auto"):
        return None
    match = _SIZE.match(value)
    if not match:
        raise _invalid("size", f"{value!r} is not WIDTHxHEIGHT (e.g. 1024x1024) or auto.")
    return int(match.group(1)), int(match.group(2))


def edit_size(value: str | None) -> tuple[int, int] | None:
    """The size an edited image is first fitted to: multiples of 8 within the editing limits
    (the output follows the source, so the platform never sees this size itself)."""
    size = requested_size(value)
    if size is None:
        return None
    low, high = 64, settings.ILLU_EDIT_MAX_SIDE
    if any(side % 8 or not low <= side <= high for side in size):
        raise _invalid(
            "size", f"{value!r}: each side must be a multiple of 8 from {low} to {high}."
        )
    return size


def model_named(name: str | None) -> ModelChoice:
    choice = resolve_model(name)
    if choice is None:
        message = f"The model {name!r} does not exist; GET /v1/models lists the models."
        raise ModelNotFound(message, {"model": [message]})
    return choice


def _style(request: dict, model: ModelChoice) -> str | None:
    preset = request.get("style_preset")
    if preset and model.style and preset != model.style:
        raise _invalid(
            "style_preset",
            f"The model {model.name!r} is a style preset already; give one of them.",
        )
    return preset or model.style


def _shared(request: dict, model: ModelChoice) -> dict[str, Any]:
    """The body fields generations, edits and variations share."""
    body: dict[str, Any] = {"num_images": request.get("n") or 1}
    style = _style(request, model)
    if style:
        body["style"] = style
    if model.model:
        body["model"] = model.model
    quality = QUALITY_PRESETS.get(request.get("quality") or "auto")
    if quality:
        body["quality"] = quality
    for name in ("negative_prompt", "steps", "guidance_scale", "seed", "strength"):
        if request.get(name) is not None:
            body[name] = request[name]
    return body


def generation_plan(request: dict) -> JobPlan:
    """``POST /v1/images/generations``: a text job (a character job with ``character``)."""
    model = model_named(request.get("model"))
    body = {"kind": JobKind.TEXT, "prompt": request["prompt"], **_shared(request, model)}
    size = requested_size(request.get("size"))
    if size:
        body["width"], body["height"] = size
    if request.get("character"):
        body["kind"] = JobKind.CHARACTER
        body["character"] = str(request["character"])
    if request.get("loras"):
        body["loras"] = [dict(item) for item in request["loras"]]
    return JobPlan(body=body)


def edit_plan(request: dict) -> JobPlan:
    """``POST /v1/images/edits``: inpaint with a mask (its transparent pixels), img2img
    without; ``size`` resizes the image (and mask) first, as the output follows the source."""
    model = model_named(request.get("model"))
    source = read_image(request["source"], field="image")
    size = edit_size(request.get("size"))
    images = {"source_upload": fitted(source.convert("RGB"), size)}
    body = {"kind": JobKind.IMG2IMG, "prompt": request["prompt"], **_shared(request, model)}
    if request.get("mask"):
        mask = mask_from_transparency(
            read_image(request["mask"], field="mask"), source_size=source.size
        )
        images["mask_upload"] = fitted_mask(mask, size)
        body["kind"] = JobKind.INPAINT
    return JobPlan(body=body, images=images)


def variation_plan(request: dict) -> JobPlan:
    """``POST /v1/images/variations``: img2img of the image with a generic prompt."""
    model = model_named(request.get("model"))
    source = read_image(request["image"], field="image")
    size = edit_size(request.get("size"))
    body = {
        "kind": JobKind.IMG2IMG,
        "prompt": request.get("prompt") or VARIATION_PROMPT,
        **_shared(request, model),
    }
    return JobPlan(body=body, images={"source_upload": fitted(source.convert("RGB"), size)})
