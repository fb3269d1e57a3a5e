"""Writes on the catalog: LoRA files enter the registry only through ``lora_register`` (its
safetensors checks, nothing stored on failure)."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.utils.module_loading import import_string

from accounts.models import User
from core.errors import DomainError
from core.stored_files import store_with_rows
from core.upload_temp import process_upload_dir

from .models import Lora

_SAFE_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,200}\.safetensors$")


class LoraRejected(DomainError):
    code = "invalid"


class LoraTooLarge(DomainError):
    status_code = 413
    code = "too_large"


class UnsafeWeightsFile(Exception):
    """Raised by the weights check (``ILLU_WEIGHTS_CHECK``) for a file that is no safe
    safetensors file; the message says why."""


def check_weights_file(path: Path) -> None:
    """The safetensors check of a stored LoRA file, before anything deserialises it. The
    check is the engine's own header parser, which this layer may not import: the setting
    ``ILLU_WEIGHTS_CHECK`` names it (a function of ``path`` raising UnsafeWeightsFile)."""
    import_string(settings.ILLU_WEIGHTS_CHECK)(path)


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
    # In this process's upload folder: what a killed process leaves there is swept.
    folder = process_upload_dir()
    handle, name = tempfile.mkstemp(suffix=".safetensors", prefix="lora-upload-", dir=folder)
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
            check_weights_file(path)
        except UnsafeWeightsFile as exc:
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
            store_with_rows([(lora.file, "lora.safetensors", File(handle))], lora.save)
        return lora, True
    finally:
        path.unlink(missing_ok=True)


def lora_set_enabled(*, lora: Lora, enabled: bool) -> Lora:
    Lora.objects.filter(pk=lora.pk).update(enabled=enabled)
    lora.refresh_from_db()
    return lora
