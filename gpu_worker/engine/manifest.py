"""Per-image manifests: what is needed to reproduce an image exactly."""

from __future__ import annotations

import hashlib
import math
from importlib import metadata
from pathlib import Path
from typing import Any

from .weight_hashes import WEIGHT_HASHES

_LIBRARIES = ("torch", "diffusers", "transformers", "peft", "safetensors")


def library_versions() -> dict[str, str]:
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def file_sha256(path: Path) -> str:
    """sha256 of a file, computed once per (path, size, mtime) (see ``weight_hashes``)."""
    return WEIGHT_HASHES.file_sha256(Path(path))


def weights_digests(model_dir: Path | str) -> dict[str, str]:
    """sha256 of the weights a model source loaded, keyed by path relative to its folder:
    the files its loader recorded (one variant, one named file), else every safetensors file
    of a local directory."""
    loaded = WEIGHT_HASHES.loaded(str(model_dir))
    if loaded is not None:
        return WEIGHT_HASHES.digests(loaded)
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return {}
    return {
        str(path.relative_to(model_dir)): file_sha256(path)
        for path in sorted(model_dir.rglob("*.safetensors"))
    }


def scheduler_record(scheduler: Any) -> dict[str, Any]:
    """The scheduler's class and config, storable as strict JSON: a non-finite number (the
    DPM-Solver config's ``lambda_min_clipped: -inf``) is kept as its name, since neither
    PostgreSQL's jsonb nor SQLite's JSON accepts ``-Infinity``."""
    config = {
        key: repr(value) if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in dict(scheduler.config).items()
    }
    return {"class": type(scheduler).__name__, "config": config}


def model_digests(local_path: str) -> dict[str, str]:
    """sha256 of the base model's weights: what its loader recorded, else a directory, a
    single file or a cached hub repo."""
    loaded = WEIGHT_HASHES.loaded(local_path)
    if loaded is not None:
        return WEIGHT_HASHES.digests(loaded)
    path = Path(local_path)
    if path.is_file():
        return {path.name: file_sha256(path)}
    if path.is_dir():
        return weights_digests(path)
    try:  # a hub repo id: hash the snapshot already in the local cache, never download
        from huggingface_hub import snapshot_download

        from .hub import hub_cache_dir

        snapshot = snapshot_download(
            local_path,
            local_files_only=True,
            allow_patterns=["*.safetensors", "*.json"],
            cache_dir=hub_cache_dir(),
        )
    except Exception:  # not cached or no huggingface_hub: the manifest says so
        return {}
    return weights_digests(Path(snapshot))


def image_sha256(image: Any) -> str:
    """sha256 of an image's mode, size and pixels (identifies reference/control inputs)."""
    digest = hashlib.sha256(f"{image.mode}:{image.size}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()
