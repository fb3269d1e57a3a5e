"""Per-image manifests: what is needed to reproduce an image exactly."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

_LIBRARIES = ("torch", "diffusers", "transformers", "peft", "safetensors")


def library_versions() -> dict[str, str]:
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


@lru_cache(maxsize=256)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file, cached by (path, size, mtime) so warm jobs do not rehash gigabytes."""
    stat = path.stat()
    return _sha256_cached(str(path), stat.st_size, stat.st_mtime_ns)


def weights_digests(model_dir: Path) -> dict[str, str]:
    """sha256 of every safetensors file of a local model directory, keyed by relative path."""
    if not model_dir.is_dir():
        return {}
    return {
        str(path.relative_to(model_dir)): file_sha256(path)
        for path in sorted(model_dir.rglob("*.safetensors"))
    }


def scheduler_record(scheduler: Any) -> dict[str, Any]:
    return {"class": type(scheduler).__name__, "config": dict(scheduler.config)}
