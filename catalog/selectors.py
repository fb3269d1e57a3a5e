"""Reads of the catalog as each user may see it."""

from __future__ import annotations

import json

from django.db.models import Q, QuerySet

from accounts.models import User
from work.workers import live_workers

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


def model_residency() -> dict[str, list[str]]:
    """Model slug -> names of the live workers holding it, from their heartbeats'
    ``resident_models`` (a list of slugs; a worker that does not report it holds none)."""
    residency: dict[str, list[str]] = {}
    for worker in live_workers():
        resident = getattr(worker, "resident_models", None) or worker.get("resident_models") or []
        if isinstance(resident, str | bytes):  # the raw hash field, JSON, if left undecoded
            resident = json.loads(resident or "[]")
        for slug in resident:
            residency.setdefault(slug, []).append(worker["name"])
    return residency
