"""Resolving a job's parameters: explicit values, then the style preset, then the quality
preset, then settings. The result is complete (seeds included) and is what a worker runs."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings

from accounts.models import Avatar, User
from catalog.base_models import lora_fits, resolve_model
from catalog.models import BaseModel, StylePreset
from catalog.selectors import loras_visible_to
from characters.models import Character
from core.errors import InvalidParams

from .edit_params import resolve_edit_params
from .models import EDIT_KINDS, JobKind, Upload
from .presets import DEFAULT_QUALITY, FEW_STEP_SCHEDULERS, QUALITY_PRESETS

MAX_SEED = 2**63 - 1
IDENTITY_KINDS = ("memory", "subject", "character")
# The AutoBio service's kinds come with their own curated style.
DEFAULT_STYLE_BY_KIND = {"memory": "memory", "subject": "subject"}
SUBJECT_DEFAULT_PROMPT = "portrait of the person"
DEFAULT_IP_ADAPTER_SCALE = 0.6


def random_seed() -> int:
    return secrets.randbelow(2**32)


def _invalid(field: str, message: str) -> InvalidParams:
    return InvalidParams(message, {field: [message]})


def resolve_params(owner: User, kind: str, requested: dict[str, Any]) -> dict[str, Any]:
    """Return the complete parameter set, or raise InvalidParams naming the field."""
    # Editing kinds may name a character (or an avatar) for its LoRAs, references and score.
    wants_character = kind == JobKind.CHARACTER or (
        kind in EDIT_KINDS and requested.get("character")
    )
    character = _character(owner, requested) if wants_character else None
    style = _style(requested, kind, character)
    model = resolve_model(requested.get("model"), style=style, character=character)
    quality = requested.get("quality") or (style.quality if style else DEFAULT_QUALITY)
    preset = QUALITY_PRESETS[quality]
    prompt = requested.get("prompt") or (SUBJECT_DEFAULT_PROMPT if kind == "subject" else "")
    negative = requested.get("negative_prompt")
    if negative is None:
        negative = style.negative_prompt if style else ""
    num_images = requested.get("num_images", 1)
    seed = requested.get("seed")
    params: dict[str, Any] = {
        "prompt": prompt,
        "negative_prompt": negative,
        "style": style.slug if style else None,
        "style_template": _style_template(requested, style),
        "quality": quality,
        "steps": requested.get("steps") or (style and style.steps) or preset.steps,
        "guidance_scale": requested.get("guidance_scale", preset.guidance_scale),
        "scheduler": _scheduler(requested, style, preset, model),
        "width": requested.get("width", 1024),
        "height": requested.get("height", 1024),
        "num_images": num_images,
        "seed": seed,
        "seeds": _seeds(seed, num_images),
        # The registry's slug; without a registered model, the configured weights' source.
        "model": model.slug if model else settings.ILLU_SDXL_MODEL or "demo:tiny-sdxl",
        "loras": [],
        "trigger_words": [],
    }
    loras = list(requested.get("loras", []))
    if kind in EDIT_KINDS:
        params.update(resolve_edit_params(owner, kind, requested))
    if kind in ("memory", "subject") or (kind in EDIT_KINDS and requested.get("avatar")):
        params["avatar"] = str(_avatar(owner, requested).id)
    identity = kind in IDENTITY_KINDS or "avatar" in params or character is not None
    if identity or "ip_adapter_scale" in requested:
        fallback = style.ip_adapter_scale if style and style.ip_adapter_scale is not None else None
        params["ip_adapter_scale"] = requested.get(
            "ip_adapter_scale", DEFAULT_IP_ADAPTER_SCALE if fallback is None else fallback
        )
    if character is not None:
        params.update(_character_params(character))
        explicit = {item["lora"] for item in loras}
        defaults = [
            {"lora": link.lora.slug, "weight": link.weight}
            for link in character.lora_links.select_related("lora")
            if link.lora.slug not in explicit
        ]
        loras = defaults + loras
    if preset.lora and preset.lora not in {item["lora"] for item in loras}:
        loras.append({"lora": preset.lora, "weight": 1.0})
    params["loras"] = _loras(owner, loras, model)
    params["trigger_words"] = list(
        dict.fromkeys(
            [*params.pop("character_trigger_words", [])]
            + [word for lora in params["loras"] for word in lora["trigger_words"]]
        )
    )
    if kind == "control" or (kind in (JobKind.IMG2IMG, JobKind.INPAINT) and "control" in requested):
        params["control"] = _control(owner, requested, style)
    if requested.get("score_characters"):
        params["score_characters"] = _score_characters(owner, requested, params.get("character"))
    if requested.get("consistency") is not None or kind in IDENTITY_KINDS:
        params["consistency"] = _consistency(requested, character, num_images)
    return params


def _seeds(seed: int | None, count: int) -> list[int]:
    if seed is None:
        return [random_seed() for _ in range(count)]
    return [(seed + offset) % (MAX_SEED + 1) for offset in range(count)]


def _style(requested: dict, kind: str, character: Character | None) -> StylePreset | None:
    slug = requested.get("style")
    if slug:
        style = StylePreset.objects.filter(slug=slug, enabled=True).first()
        if style is None:
            raise _invalid("style", f"Unknown or disabled style {slug!r}.")
        return style
    if character is not None and character.style_id:
        return character.style
    default = DEFAULT_STYLE_BY_KIND.get(kind)
    return StylePreset.objects.filter(slug=default, enabled=True).first() if default else None


def _style_template(requested: dict, style: StylePreset | None) -> str:
    if requested.get("style_prompt"):
        return "{prompt}, " + requested["style_prompt"]
    return style.prompt_template if style else ""


def _avatar(owner: User, requested: dict) -> Avatar:
    avatar_id = requested.get("avatar")
    if avatar_id:
        avatar = Avatar.objects.filter(owner=owner, pk=avatar_id).first()
        if avatar is None:
            raise _invalid("avatar", f"No avatar {avatar_id} among yours.")
    else:
        avatar = Avatar.objects.filter(owner=owner, primary=True).first()
        if avatar is None:
            raise _invalid("avatar", "You have no primary avatar; upload one first.")
    if avatar.face_count is not None and avatar.face_count != 1:
        found = "no face" if avatar.face_count == 0 else f"{avatar.face_count} faces"
        raise _invalid("avatar", f"The avatar shows {found}; it needs exactly one face.")
    return avatar


def _character(owner: User, requested: dict) -> Character:
    character_id = requested.get("character")
    if not character_id:
        raise _invalid("character", "A character is required for character jobs.")
    character = Character.objects.filter(owner=owner, pk=character_id).first()
    if character is None:
        raise _invalid("character", f"No character {character_id} among yours.")
    return character


def _score_characters(owner: User, requested: dict, kept: str | None) -> list[str]:
    """Further characters each image is scored against (a book page that names several); the
    job keeps only ``character``'s identity. Owned ones, each once, not the kept one."""
    ids = [str(value) for value in requested["score_characters"]]
    owned = Character.objects.filter(owner=owner).values_list("pk", flat=True)
    found = {str(pk) for pk in owned}
    for position, value in enumerate(ids):
        if value not in found:
            raise _invalid(f"score_characters.{position}", f"No character {value} among yours.")
    return [value for value in dict.fromkeys(ids) if value != kept]


def _character_params(character: Character) -> dict[str, Any]:
    references = [
        str(reference.id) for reference in character.references.all() if not reference.face_flagged
    ]
    return {
        "character": str(character.id),
        "reference_images": references,
        "character_trigger_words": list(character.trigger_words),
        "consistency_threshold": character.consistency_threshold,
    }


def _scheduler(requested: dict, style: StylePreset | None, preset, model: BaseModel | None) -> str:
    """The request's, else the style's, else the quality preset's (few-step presets need their
    own sampler, so a style's ordinary one yields to it), else the model's default."""
    if requested.get("scheduler"):
        return requested["scheduler"]
    if style is not None and (preset.scheduler is None or style.scheduler in FEW_STEP_SCHEDULERS):
        return style.scheduler
    return preset.scheduler or (model.default_scheduler if model else "euler")


def _loras(owner: User, requested: list[dict], model: BaseModel | None) -> list[dict[str, Any]]:
    visible = loras_visible_to(user=owner)
    resolved = []
    for position, item in enumerate(requested):
        lora = visible.filter(slug=item["lora"]).first()
        if lora is None:
            raise _invalid(f"loras.{position}.lora", f"Unknown or disabled LoRA {item['lora']!r}.")
        if not lora_fits(lora, model):
            named = f"the model {model.slug!r}" if model else "the configured model"
            family = model.get_family_display() if model else "SDXL"
            raise _invalid(
                "loras",
                f"LoRA {lora.slug!r} is for {lora.get_base_model_display()}; {named} is "
                f"{family}. Choose a LoRA of its family or another model.",
            )
        weight = item.get("weight", lora.default_weight)
        if not lora.min_weight <= weight <= lora.max_weight:
            raise _invalid(
                f"loras.{position}.weight",
                f"Weight {weight} for {lora.slug!r} is outside "
                f"{lora.min_weight}..{lora.max_weight}.",
            )
        resolved.append(
            {
                "slug": lora.slug,
                "sha256": lora.sha256,
                "weight": weight,
                "trigger_words": list(lora.trigger_words),
            }
        )
    return resolved


def _control(owner: User, requested: dict, style: StylePreset | None) -> dict[str, Any]:
    control = requested.get("control")
    if not control:
        raise _invalid("control", "A control block (type and image) is required for control jobs.")
    upload = Upload.objects.filter(owner=owner, pk=control["image"]).first()
    if upload is None:
        raise _invalid("control.image", f"No upload {control['image']} among yours.")
    style_scale = (style.controlnet_weights or {}).get(control["type"]) if style else None
    return {
        "type": control["type"],
        "image": str(upload.id),
        "scale": control.get("scale", style_scale if style_scale is not None else 1.0),
        "preprocess": control.get("preprocess", True),
    }


def _consistency(requested: dict, character: Character | None, num_images: int) -> dict:
    asked = requested.get("consistency") or {}
    default_threshold = (
        character.consistency_threshold if character else settings.ILLU_CONSISTENCY_THRESHOLD
    )
    min_accepted = asked.get("min_accepted", num_images)
    max_attempts = asked.get("max_attempts", max(num_images, min_accepted) * 2)
    if min_accepted > max_attempts:
        raise _invalid(
            "consistency.min_accepted",
            f"min_accepted ({min_accepted}) cannot exceed max_attempts ({max_attempts}).",
        )
    return {
        "threshold": asked.get("threshold", default_threshold),
        "min_accepted": min_accepted,
        "max_attempts": max_attempts,
        "filter": "consistency" in requested,
        # Repair rejected images' faces (ILLU_FACE_REPAIR_MAX_PASSES passes) before re-rolling.
        "repair": bool(asked.get("repair", False)),
    }
