"""Reads of characters and their references, as each user may see them."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import User

from .models import Character, ReferenceImage


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
