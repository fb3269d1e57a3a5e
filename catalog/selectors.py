"""Reads of the catalog as each user may see it."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import User

from .models import BaseModel, Lora, StylePreset


def loras_visible_to(*, user: User) -> QuerySet[Lora]:
    """Enabled platform LoRAs that are public, and the user's own private ones: another
    user's private LoRA is as unknown as one that does not exist."""
    return Lora.objects.filter(enabled=True).filter(Q(is_public=True) | Q(owner=user))


def lora_list(*, user: User, filters: dict) -> QuerySet[Lora]:
    """The LoRAs a user may use, of one ``type`` when the filters name one."""
    loras = loras_visible_to(user=user)
    if filters.get("type"):
        loras = loras.filter(type=filters["type"])
    return loras


def enabled_styles() -> QuerySet[StylePreset]:
    """The style presets users may choose; a disabled one is as unknown as a missing one."""
    return StylePreset.objects.filter(enabled=True)


def enabled_base_models() -> QuerySet[BaseModel]:
    """The checkpoints users may choose; a disabled one is as unknown as a missing one."""
    return BaseModel.objects.filter(enabled=True)


def model_load_spec(slug: str) -> dict | None:
    """What a worker needs to load the base model ``slug`` (None when no such model is
    registered): its source, VAE, weights sha256 (blank until fetched), family and default
    scheduler. Disabled models still load: a job queued before it was disabled runs on it."""
    row = (
        BaseModel.objects.filter(slug=slug)
        .values("slug", "source", "vae", "sha256", "family", "default_scheduler")
        .first()
    )
    return row
