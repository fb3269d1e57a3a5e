"""Writes on characters and their reference images."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.models import User
from catalog.models import Lora
from catalog.selectors import loras_visible_to
from core.errors import InvalidParams
from core.faces import detect_face, reference_embedding
from core.image_input import png_content, read_uploaded_image
from core.stored_files import delete_files_on_commit, store_with_rows

from .models import Character, CharacterLora, ReferenceImage


def _validate_lora_weights(owner: User, loras: list[dict[str, Any]]) -> list[tuple[Lora, float]]:
    resolved = []
    # Public LoRAs and the owner's own: another user's private LoRA does not exist here.
    visible = loras_visible_to(user=owner)
    for position, item in enumerate(loras):
        lora = visible.filter(slug=item["lora"]).first()
        if lora is None:
            raise InvalidParams(
                f"LoRA {item['lora']!r} is not in the registry or is disabled.",
                {f"default_loras.{position}.lora": ["Unknown or disabled LoRA."]},
            )
        weight = item.get("weight", lora.default_weight)
        if not lora.min_weight <= weight <= lora.max_weight:
            raise InvalidParams(
                f"Weight {weight} for LoRA {lora.slug!r} is outside "
                f"{lora.min_weight}..{lora.max_weight}.",
                {f"default_loras.{position}.weight": ["Outside the LoRA's allowed range."]},
            )
        resolved.append((lora, weight))
    return resolved


@transaction.atomic
def character_create(*, owner: User, name: str, **fields: Any) -> Character:
    loras = fields.pop("default_loras", [])
    if Character.objects.filter(owner=owner, name=name).exists():
        raise InvalidParams(
            f"You already have a character named {name!r}.",
            {"name": ["A character with this name exists."]},
        )
    character = Character(owner=owner, name=name, **fields)
    character.full_clean()
    character.save()
    _set_character_loras(character, loras)
    return character


@transaction.atomic
def character_update(*, character: Character, **fields: Any) -> Character:
    loras = fields.pop("default_loras", None)
    for key, value in fields.items():
        setattr(character, key, value)
    character.full_clean()
    character.save()
    if loras is not None:
        _set_character_loras(character, loras)
    return character


def _set_character_loras(character: Character, loras: list[dict[str, Any]]) -> None:
    resolved = _validate_lora_weights(character.owner, loras)
    CharacterLora.objects.filter(character=character).delete()
    CharacterLora.objects.bulk_create(
        CharacterLora(character=character, lora=lora, weight=weight) for lora, weight in resolved
    )


def character_delete(*, character: Character) -> None:
    files = [ref.image.name for ref in character.references.all()]
    character.delete()
    delete_files_on_commit(files)


def reference_add(*, character: Character, upload) -> ReferenceImage:
    """Store a re-encoded reference image with its row and the character's new embedding
    (``store_with_rows``: the object goes again if they do not commit)."""
    image = read_uploaded_image(upload)
    face = detect_face(image)
    # A reference without exactly one face is kept and flagged, never silently used.
    reference = ReferenceImage(
        character=character, face_count=face.count, face_embedding=face.embedding
    )

    def write_rows() -> None:
        reference.save()
        character_refresh_embedding(character)

    store_with_rows([(reference.image, "reference.png", png_content(image))], write_rows)
    return reference


@transaction.atomic
def reference_remove(*, reference: ReferenceImage) -> None:
    name = reference.image.name
    character = reference.character
    reference.delete()
    character_refresh_embedding(character)
    delete_files_on_commit([name])


def character_refresh_embedding(character: Character) -> None:
    """Set the character's reference embedding: the normalized mean of its references with
    exactly one face (flagged ones are left out), or none without such references."""
    embeddings = [
        ref.face_embedding
        for ref in character.references.all()
        if ref.face_count == 1 and ref.face_embedding
    ]
    character.reference_embedding = reference_embedding(embeddings) if embeddings else None
    character.embedding_backend = settings.ILLU_IDENTITY_BACKEND if embeddings else ""
    character.save(update_fields=["reference_embedding", "embedding_backend", "updated_at"])
