"""Which base model (checkpoint) a job runs on, and the curators' writes on the registry.

``resolve_model`` is the one rule: the model the request names, else the style preset's pin,
else the character's pin, else the platform default (``ILLU_DEFAULT_MODEL``). With no such
default registered, it answers None and the job runs on the deployment's configured weights
(``ILLU_SDXL_MODEL``, or the demo model), as before the registry existed."""

from __future__ import annotations

from django.conf import settings

from core.errors import InvalidParams

from .models import BaseModel, Lora, StylePreset


class ModelRefused(InvalidParams):
    """A base model that may not be used (unknown, disabled); the error names ``model``."""

    def __init__(self, message: str):
        super().__init__(message, {"model": [message]})


def resolve_model(
    slug: str | None, style: StylePreset | None = None, character=None
) -> BaseModel | None:
    """The enabled base model a job runs on (see the module); ModelRefused when the one
    asked for, or pinned by the style or character, is unknown or disabled."""
    if slug:
        return _enabled(slug, f"Unknown or disabled model {slug!r}.")
    for owner, label in ((style, "style"), (character, "character")):
        pinned = getattr(owner, "base_model", None) if owner is not None else None
        if pinned is not None:
            if not pinned.enabled:
                raise ModelRefused(
                    f"The {label} {owner}'s model {pinned.slug!r} is disabled; name another model."
                )
            return pinned
    default = settings.ILLU_DEFAULT_MODEL
    return BaseModel.objects.filter(slug=default, enabled=True).first() if default else None


def _enabled(slug: str, message: str) -> BaseModel:
    model = BaseModel.objects.filter(slug=slug, enabled=True).first()
    if model is None:
        raise ModelRefused(message)
    return model


def lora_fits(lora: Lora, model: BaseModel | None) -> bool:
    """Whether ``lora`` was trained for the family of ``model`` (None: the deployment's
    configured weights, which are SDXL)."""
    family = model.family if model is not None else "sdxl"
    return lora.base_model == family


def base_model_set_enabled(*, model: BaseModel, enabled: bool) -> BaseModel:
    BaseModel.objects.filter(pk=model.pk).update(enabled=enabled)
    model.refresh_from_db()
    return model


def base_model_record_sha256(*, slug: str, sha256: str) -> bool:
    """The worker's report of a model's weights digest once fetched; recorded only while the
    row has none (a changed source clears it, see the admin). True when it was recorded."""
    return bool(BaseModel.objects.filter(slug=slug, sha256="").update(sha256=sha256))


def base_model_register(*, slug: str, name: str, source: str, **fields) -> tuple[BaseModel, bool]:
    """Register a base model, or leave the one registered under ``slug`` as the curators
    keep it (so a bootstrap run again changes nothing). Returns (model, created)."""
    existing = BaseModel.objects.filter(slug=slug).first()
    if existing is not None:
        return existing, False
    model = BaseModel(slug=slug, name=name, source=source, **fields)
    model.full_clean()
    model.save()
    return model, True
