"""Writes on the LoRA registry and on characters."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction

from accounts.models import User
from core.errors import DomainError, InvalidParams
from core.faces import character_refresh_embedding, detect_face
from core.image_input import png_content, read_uploaded_image
from gpu_worker.engine.errors import UnsafeWeights
from gpu_worker.engine.weights import read_safetensors_header

from .models import Character, CharacterLora, Lora, ReferenceImage
from .selectors import loras_visible_to

_SAFE_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,200}\.safetensors$")


class LoraRejected(DomainError):
    code = "invalid"


class LoraTooLarge(DomainError):
    status_code = 413
    code = "too_large"


def _check_filename(filename: str) -> None:
    if "/" in filename or "\\" in filename or ".." in filename:
        raise LoraRejected(
            f"File name {filename!r} contains a path; send a plain file name.",
            {"file": ["File names may not contain paths."]},
        )
    if not _SAFE_FILENAME.match(filename):
        raise LoraRejected(
            f"File name {filename!r} is not accepted: only .safetensors LoRA files are.",
            {"file": ["Only .safetensors files are accepted."]},
        )


def _spool_and_hash(upload) -> tuple[Path, str, int]:
    """Copy the upload to a private temp file while hashing it; enforce the size cap."""
    limit = settings.ILLU_LORA_MAX_BYTES
    digest = hashlib.sha256()
    handle, name = tempfile.mkstemp(suffix=".safetensors", prefix="lora-upload-")
    size = 0
    with os.fdopen(handle, "wb") as out:
        for chunk in upload.chunks():
            size += len(chunk)
            if size > limit:
                out.close()
                os.unlink(name)
                raise LoraTooLarge(
                    f"The LoRA file exceeds the limit of {limit} bytes.",
                    {"file": [f"At most {limit} bytes."]},
                )
            digest.update(chunk)
            out.write(chunk)
    return Path(name), digest.hexdigest(), size


def lora_register(
    *,
    upload,
    slug: str,
    name: str,
    type: str,
    owner: User | None = None,
    is_public: bool = True,
    trigger_words: list[str] | None = None,
    default_weight: float = 0.8,
    min_weight: float = 0.0,
    max_weight: float = 1.5,
    base_model: str = "sdxl",
) -> tuple[Lora, bool]:
    """Validate and store an uploaded LoRA. Returns (entry, created); the same file (same
    sha256) registered twice is the same entry. Nothing is stored when validation fails."""
    _check_filename(upload.name or "")
    if upload.size is not None and upload.size > settings.ILLU_LORA_MAX_BYTES:
        raise LoraTooLarge(
            f"The LoRA file is {upload.size} bytes; the limit is {settings.ILLU_LORA_MAX_BYTES}.",
            {"file": [f"At most {settings.ILLU_LORA_MAX_BYTES} bytes."]},
        )
    path, sha256, size = _spool_and_hash(upload)
    try:
        try:
            read_safetensors_header(path)
        except UnsafeWeights as exc:
            raise LoraRejected(str(exc).replace(path.name, repr(upload.name)), {"file": [str(exc)]})
        existing = Lora.objects.filter(sha256=sha256).first()
        if existing is not None:
            return existing, False
        lora = Lora(
            slug=slug,
            name=name,
            type=type,
            owner=owner,
            is_public=is_public,
            original_filename=upload.name,
            sha256=sha256,
            size_bytes=size,
            trigger_words=trigger_words or [],
            default_weight=default_weight,
            min_weight=min_weight,
            max_weight=max_weight,
            base_model=base_model,
        )
        lora.full_clean(exclude=["file"])
        with open(path, "rb") as handle:
            lora.file.save("lora.safetensors", File(handle), save=False)
        try:
            with transaction.atomic():
                lora.save()
        except IntegrityError:
            lora.file.delete(save=False)
            raise
        return lora, True
    finally:
        path.unlink(missing_ok=True)


def lora_set_enabled(*, lora: Lora, enabled: bool) -> Lora:
    Lora.objects.filter(pk=lora.pk).update(enabled=enabled)
    lora.refresh_from_db()
    return lora


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
    _delete_files_on_commit(files)


@transaction.atomic
def reference_add(*, character: Character, upload) -> ReferenceImage:
    image = read_uploaded_image(upload)
    face = detect_face(image)
    # A reference without exactly one face is kept and flagged, never silently used.
    reference = ReferenceImage(
        character=character, face_count=face.count, face_embedding=face.embedding
    )
    reference.image.save("reference.png", png_content(image), save=False)
    try:
        reference.save()
        character_refresh_embedding(character)
    except Exception:
        reference.image.delete(save=False)
        raise
    return reference


@transaction.atomic
def reference_remove(*, reference: ReferenceImage) -> None:
    name = reference.image.name
    character = reference.character
    reference.delete()
    character_refresh_embedding(character)
    _delete_files_on_commit([name])


def _delete_files_on_commit(names: list[str]) -> None:
    from django.core.files.storage import default_storage

    def delete() -> None:
        for name in names:
            if name:
                default_storage.delete(name)

    transaction.on_commit(delete)
