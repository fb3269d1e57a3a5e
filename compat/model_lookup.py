"""The models a compatibility client may name: the platform's default model, every enabled
base model of the registry (by slug), and every enabled style preset (a curated look, on the
model it pins or the default). The one place that lists and resolves them.

Used by the OpenAI routes (``model``, ``GET /v1/models``) and the AUTOMATIC1111 routes
(``sd_model_checkpoint``, ``/sd-models``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

from .platform import enabled_base_models, enabled_styles

# AUTOMATIC1111 titles a checkpoint "name [hash]"; clients send the title back.
_TITLE_HASH = re.compile(r"\s*\[[0-9a-fA-F]*\]\s*$")


@dataclass(frozen=True)
class ModelChoice:
    """One nameable model: ``name`` is what clients send; ``style`` the style preset it
    applies (None: a base model alone); ``model`` the registry slug the job names (None: the
    platform default, or the style's own model)."""

    name: str
    label: str
    style: str | None
    created: int  # Unix seconds; 0 when unknown (the default model)
    model: str | None = None
    sha256: str = ""  # of a registered model's weights, once a worker recorded it

    @property
    def is_base(self) -> bool:
        return self.style is None


def base_model() -> ModelChoice:
    """The platform's default model, named by ILLU_BASE_MODEL_SLUG."""
    return ModelChoice(
        name=settings.ILLU_BASE_MODEL_SLUG, label="Base model", style=None, created=0
    )


def available_models() -> list[ModelChoice]:
    """The default model first, then the registry's enabled models by slug, then the enabled
    style presets by slug. A later entry whose name is taken is left out: the name means the
    first."""
    choices = [base_model()]
    choices += [
        ModelChoice(
            name=model.slug,
            label=model.name,
            style=None,
            created=int(model.created_at.timestamp()),
            model=model.slug,
            sha256=model.sha256,
        )
        for model in enabled_base_models().order_by("slug")
    ]
    choices += [
        ModelChoice(
            name=preset.slug,
            label=preset.name,
            style=preset.slug,
            created=int(preset.created_at.timestamp()),
        )
        for preset in enabled_styles().order_by("slug")
    ]
    taken: set[str] = set()
    unique = []
    for choice in choices:
        if choice.name.lower() not in taken:
            taken.add(choice.name.lower())
            unique.append(choice)
    return unique


def resolve_model(name: str | None) -> ModelChoice | None:
    """The model ``name`` means (case-insensitive; an AUTOMATIC1111 title's " [hash]" is
    ignored); the default model when ``name`` is empty; None when nothing has that name."""
    wanted = _TITLE_HASH.sub("", name or "").strip().lower()
    if not wanted:
        return base_model()
    for choice in available_models():
        if choice.name.lower() == wanted:
            return choice
    return None
