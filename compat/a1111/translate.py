"""AUTOMATIC1111 requests as platform jobs: txt2img is a text job (a control job with a
ControlNet unit; ``enable_hr`` adds an upscale job per image once those end), img2img an
img2img or, with a mask, an inpaint job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from PIL import Image

from accounts.models import User
from core.errors import InvalidParams

from ..images import base64_upload, fitted, fitted_mask, mask_from_white, read_image
from ..model_lookup import ModelChoice, resolve_model
from ..platform import JobKind, enabled_styles, loras_visible_to
from ..prompts import BadLoraTag, split_lora_tags
from ..samplers import UnknownName, sampler_label, scheduler_for, upscale_method_for
from ..selectors import a1111_checkpoint_of
from ..services import JobPlan

# Platform field -> the A1111 field it came from (for error messages).
CLIENT_FIELDS = {
    "num_images": "batch_size",
    "guidance_scale": "cfg_scale",
    "scheduler": "sampler_name",
    "style": "styles",
    "model": "sd_model_checkpoint",
    "source_upload": "init_images",
    "mask_upload": "mask",
    "strength": "denoising_strength",
    "loras": "prompt",
    "control": "alwayson_scripts",
    "scale": "hr_scale",
    "upscale_method": "hr_upscaler",
}
DEFAULT_DENOISING = 0.75  # A1111's img2img default
# A1111's ControlNet modules and models by the platform's control type they contain.
CONTROL_TYPES = (
    ("canny", "canny"),
    ("depth", "depth"),
    ("openpose", "pose"),
    ("pose", "pose"),
    ("seg", "segmentation"),
    ("normal", "normal"),
    ("scribble", "scribble"),
)


def _invalid(name: str, message: str) -> InvalidParams:
    return InvalidParams(f"{name}: {message}", {name: [message]})


@dataclass
class Request:
    """One A1111 request as jobs: the plan, and what the answer reports."""

    plan: JobPlan
    model: ModelChoice
    prompt: str
    sampler: str
    schedule: str
    hires: dict[str, Any] | None = None  # the upscale jobs' body, less source_image


def _model(request: dict, user: User) -> ModelChoice:
    overridden = (request.get("override_settings") or {}).get("sd_model_checkpoint")
    name = overridden or a1111_checkpoint_of(user=user)
    choice = resolve_model(name) if isinstance(name, str) else None
    if choice is None:
        where = "override_settings.sd_model_checkpoint" if overridden else "sd_model_checkpoint"
        raise _invalid(where, f"No model named {name!r}; see /sdapi/v1/sd-models.")
    return choice


def _style(request: dict, model: ModelChoice) -> str | None:
    styles = request.get("styles") or []
    if not styles:
        return model.style
    wanted = styles[0]
    if not enabled_styles().filter(slug=wanted).exists():
        raise _invalid("styles", f"No prompt style {wanted!r}; see /sdapi/v1/prompt-styles.")
    if model.style and model.style != wanted:
        raise _invalid("styles", f"The model {model.name!r} is the style {model.style!r} already.")
    return wanted


def _loras(prompt: str, user: User) -> tuple[str, list[dict]]:
    try:
        text, tags = split_lora_tags(prompt)
    except BadLoraTag as exc:
        raise _invalid("prompt", str(exc))
    visible = {lora.slug.lower(): lora.slug for lora in loras_visible_to(user=user)}
    loras = []
    for tag in tags:
        slug = visible.get(tag.name.lower())
        if slug is None:
            raise _invalid(
                "prompt", f"Unknown LoRA {tag.name!r} in the prompt; see /sdapi/v1/loras."
            )
        loras.append({"lora": slug, "weight": tag.weight})
    return text, loras


def _seed(request: dict) -> int | None:
    seed = request.get("seed")
    if seed is None or seed == -1:
        return None
    if seed < 0:
        raise _invalid("seed", "A seed is 0 or more, or -1 for a random one.")
    return seed


def _controlnet(request: dict) -> tuple[dict, Image.Image] | None:
    """The first enabled unit of an ``alwayson_scripts`` ControlNet entry, as the job's
    control block and image; None without one. Other scripts are ignored."""
    scripts = request.get("alwayson_scripts") or {}
    entry = next((value for key, value in scripts.items() if key.lower() == "controlnet"), None)
    if not entry:
        return None
    where = "alwayson_scripts.controlnet"
    args = entry.get("args") if isinstance(entry, dict) else None
    if not isinstance(args, list):
        raise _invalid(where, 'Expected {"args": [unit, ...]}.')
    units = [
        unit
        for unit in args
        if isinstance(unit, dict)
        and unit.get("enabled", True)
        and (unit.get("image") or unit.get("input_image"))
    ]
    if not units:
        return None
    if len(units) > 1:
        raise _invalid(where, "One ControlNet unit per job on this server.")
    unit = units[0]
    module, model = str(unit.get("module") or "none"), str(unit.get("model") or "")
    names = f"{module} {model}".lower()
    control_type = next((kind for key, kind in CONTROL_TYPES if key in names), None)
    if control_type is None:
        known = ", ".join(sorted({kind for _, kind in CONTROL_TYPES}))
        raise _invalid(
            where, f"No control type in {module!r} / {model!r}; this server has {known}."
        )
    raw = unit.get("image") or unit.get("input_image")
    if isinstance(raw, dict):
        raw = raw.get("image")
    if not isinstance(raw, str):
        raise _invalid(where, "A unit's image is a base64 string.")
    image = read_image(base64_upload(raw, field=where), field=where).convert("RGB")
    weight = unit.get("weight", 1.0)
    if not isinstance(weight, int | float) or isinstance(weight, bool):
        raise _invalid(where, "A unit's weight is a number.")
    control = {
        "type": control_type,
        "scale": float(weight),
        "preprocess": module.lower() not in ("none", ""),
    }
    return control, image


def _common(request: dict, user: User, kind: str) -> Request:
    model = _model(request, user)
    prompt, loras = _loras(request.get("prompt", ""), user)
    sampler_name = request.get("sampler_name") or request.get("sampler_index")
    try:
        scheduler = scheduler_for(sampler_name, request.get("scheduler"))
    except UnknownName as exc:
        raise _invalid(exc.field, str(exc))
    body: dict[str, Any] = {
        "kind": kind,
        "prompt": prompt,
        "num_images": request.get("batch_size", 1) * request.get("n_iter", 1),
        "loras": loras,
    }
    style = _style(request, model)
    if style:
        body["style"] = style
    if model.model:
        body["model"] = model.model
    if scheduler:
        body["scheduler"] = scheduler
    seed = _seed(request)
    if seed is not None:
        body["seed"] = seed
    for name, target in (
        ("negative_prompt", "negative_prompt"),
        ("steps", "steps"),
        ("cfg_scale", "guidance_scale"),
    ):
        if request.get(name) is not None:
            body[target] = request[name]
    plan = JobPlan(body=body)
    control = _controlnet(request)
    if control:
        plan.body["control"], plan.images["control.image"] = control[0], control[1]
        if kind == JobKind.TEXT:
            plan.body["kind"] = JobKind.CONTROL
    return Request(
        plan=plan,
        model=model,
        prompt=prompt,
        sampler=sampler_label(scheduler) if scheduler else (sampler_name or "Automatic"),
        schedule=request.get("scheduler") or "automatic",
    )


def _hires(request: dict, common: Request) -> dict[str, Any]:
    scale = request.get("hr_scale", 2)
    width, height = request.get("width"), request.get("height")
    resize_x, resize_y = request.get("hr_resize_x") or 0, request.get("hr_resize_y") or 0
    if (resize_x or resize_y) and width and height:
        scales = {resize_x / width if resize_x else None, resize_y / height if resize_y else None}
        scales.discard(None)
        if len(scales) != 1:
            raise _invalid("hr_resize_x", "hr_resize_x and hr_resize_y must scale alike.")
        scale = scales.pop()
    if scale not in (2, 4):
        raise _invalid("hr_scale", f"This server upscales by 2 or 4 (got {scale}).")
    try:
        method = upscale_method_for(request.get("hr_upscaler"))
    except UnknownName as exc:
        raise _invalid(exc.field, str(exc))
    body = common.plan.body
    hires = {
        "kind": JobKind.UPSCALE,
        "scale": int(scale),
        "upscale_method": method,
        "prompt": split_lora_tags(request.get("hr_prompt") or "")[0] or body["prompt"],
        "loras": body["loras"],
    }
    if request.get("hr_negative_prompt") or body.get("negative_prompt"):
        hires["negative_prompt"] = request.get("hr_negative_prompt") or body["negative_prompt"]
    for name in ("style", "scheduler", "guidance_scale"):
        if name in body:
            hires[name] = body[name]
    steps = request.get("hr_second_pass_steps") or body.get("steps")
    if steps:
        hires["steps"] = steps
    if request.get("denoising_strength") is not None:
        hires["strength"] = request["denoising_strength"]
    return hires


def txt2img_request(request: dict, user: User) -> Request:
    common = _common(request, user, JobKind.TEXT)
    for name in ("width", "height"):
        if request.get(name) is not None:
            common.plan.body[name] = request[name]
    if request.get("enable_hr"):
        common.hires = _hires(request, common)
    return common


def _edit_size(request: dict) -> tuple[int, int] | None:
    width, height = request.get("width"), request.get("height")
    if not width or not height:
        return None
    low, high = 64, settings.ILLU_EDIT_MAX_SIDE
    for name, side in (("width", width), ("height", height)):
        if side % 8 or not low <= side <= high:
            raise _invalid(name, f"A multiple of 8 from {low} to {high} (got {side}).")
    return width, height


def img2img_request(request: dict, user: User) -> Request:
    mode = request.get("resize_mode", 0)
    size = _edit_size(request)
    source = read_image(
        base64_upload(request["init_images"][0], field="init_images"), field="init_images"
    ).convert("RGB")
    source = fitted(source, size, mode=mode)
    common = _common(request, user, JobKind.IMG2IMG)
    body = common.plan.body
    common.plan.images["source_upload"] = source
    strength = request.get("denoising_strength")
    body["strength"] = DEFAULT_DENOISING if strength is None else strength
    if request.get("mask"):
        mask = read_image(base64_upload(request["mask"], field="mask"), field="mask")
        mask = mask_from_white(mask, invert=bool(request.get("inpainting_mask_invert")))
        common.plan.images["mask_upload"] = fitted_mask(mask, source.size, mode=mode)
        body["kind"] = JobKind.INPAINT
        # A1111 feathers the mask by mask_blur and never grows it.
        body["mask_blur"] = request.get("mask_blur", 4)
        body["mask_padding"] = 0
    return common
