"""Reads of characters, their references and the LoRA registry, as each user may see them."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import User

from .models import Character, Lora, ReferenceImage


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


def characters_of(*, user: User) -> QuerySet[Character]:
    """A user's own characters, with what their pages and API answers show."""
    return (
        Character.objects.filter(owner=user)
        .select_related("style")
        .prefetch_related("lora_links__lora", "references")
    )


def references_of(*, user: User) -> QuerySet[ReferenceImage]:
    """The reference images of a user's own characters."""
    return ReferenceImage.objects.filter(character__owner=user)
