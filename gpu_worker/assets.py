"""Files a job needs on the worker's disk or in memory: LoRA weights (cached by sha256) and
images from storage (avatars, references, control uploads)."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from PIL import Image

from .engine.errors import InvalidSpec, ModelUnavailable


class AssetMissing(InvalidSpec):
    """An input the job names is gone (deleted avatar, upload or LoRA)."""


def lora_cache_dir() -> Path:
    path = Path(settings.ILLU_MODELS_DIR) / "lora-cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def local_lora_file(sha256: str) -> Path:
    """The registry file with this sha256 on local disk, downloaded once and verified."""
    from catalog.models import Lora

    target = lora_cache_dir() / f"{sha256}.safetensors"
    if target.exists():
        return target
    lora = Lora.objects.filter(sha256=sha256).first()
    if lora is None:
        raise AssetMissing(f"The LoRA with sha256 {sha256[:12]}… is no longer in the registry.")
    digest = hashlib.sha256()
    handle, partial = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out, lora.file.open("rb") as source:
            for chunk in iter(lambda: source.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise ModelUnavailable(f"LoRA {lora.slug!r} in storage does not match its sha256.")
        os.replace(partial, target)  # atomic: concurrent workers never see half a file
    finally:
        Path(partial).unlink(missing_ok=True)
    return target


def storage_image(name: str, what: str) -> Image.Image:
    if not name or not default_storage.exists(name):
        raise AssetMissing(f"The {what} image is no longer available.")
    with default_storage.open(name, "rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    return image.convert("RGB")
