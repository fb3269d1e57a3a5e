"""The models a compatibility client may name: the platform's base model and every enabled
style preset (a preset is a curated look on that base model, the nearest thing to a
"checkpoint" the platform has). The one place that lists and resolves them, so a registry of
several base models changes only this module.

Used by the OpenAI routes (``model``, ``GET /v1/models``) and the AUTOMATIC1111 routes
(``sd_model_checkpoint``, ``/sd-models``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

from .platform import enabled_styles

# AUTOMATIC1111 titles a checkpoint "name [hash]"; clients send the title back.
_TITLE_HASH = re.compile(r"\s*\[[0-9a-fA-F]*\]\s*$")


@dataclass(frozen=True)
class ModelChoice:
    """One nameable model: ``name`` is what clients send; ``style`` the style preset it
    applies (None: the base model alone)."""

    name: str
    label: str
    style: str | None
    created: int  # Unix seconds; 0 when unknown (the base model)
    source: str  # where its weights come from, as the worker resolves them

    @property
    def is_base(self) -> bool:
        return self.style is None


def base_model() -> ModelChoice:
    """The platform's base model, named by ILLU_BASE_MODEL_SLUG."""
    return ModelChoice(
        name=settings.ILLU_BASE_MODEL_SLUG,
        label="Base model",
        style=None,
        created=0,
        source=settings.ILLU_SDXL_MODEL or "demo:tiny-sdxl",
    )


def available_models() -> list[ModelChoice]:
    """The base model first, then the enabled style presets by slug. A preset whose slug
    equals the base model's name is left out: the name means the base model."""
    base = base_model()
    presets = [
        ModelChoice(
            name=preset.slug,
            label=preset.name,
            style=preset.slug,
            created=int(preset.created_at.timestamp()),
            source=base.source,
        )
        for preset in enabled_styles().order_by("slug")
        if preset.slug != base.name
    ]
    return [base, *presets]


def resolve_model(name: str | None) -> ModelChoice | None:
    """The model ``name`` means (case-insensitive; an AUTOMATIC1111 title's " [hash]" is
    ignored); the base model when ``name`` is empty; None when nothing has that name."""
    wanted = _TITLE_HASH.sub("", name or "").strip().lower()
    if not wanted:
        return base_model()
    for choice in available_models():
        if choice.name.lower() == wanted:
            return choice
    return None
