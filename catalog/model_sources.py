"""The forms a base model's (or VAE's) ``source`` may take, checked before it is stored. The
engine resolves sources itself (``gpu_worker.engine.sources``); this layer may not import it,
so it only checks the spelling: a Hugging Face hub id, a local diffusers folder, a single-file
``.safetensors`` checkpoint, an ``s3://`` URI, or one of the worker's built demo models."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

DEMO_PREFIX = "demo:"
_PART = r"[A-Za-z0-9][\w.-]*"
_HUB_ID = re.compile(rf"^{_PART}/{_PART}(?:@[\w.-]+)?(?:/\S+)?$")
_S3 = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:/\S*)?$")
_DEMO = re.compile(rf"^{DEMO_PREFIX}[a-z0-9][a-z0-9-]*$")
_PICKLE_SUFFIXES = (".bin", ".ckpt", ".pt", ".pth", ".pkl", ".pickle")


def source_kind(source: str) -> str | None:
    """``demo``, ``s3``, ``local`` (an absolute path), ``hub``, or None for no known form."""
    source = source.strip()
    if not source or ".." in source or any(char.isspace() for char in source):
        return None
    if source.startswith(DEMO_PREFIX):
        return "demo" if _DEMO.match(source) else None
    if source.startswith("s3://"):
        return "s3" if _S3.match(source) else None
    if source.startswith("/"):
        return "local"
    return "hub" if _HUB_ID.match(source) else None


def validate_model_source(source: str) -> None:
    """Raise ValidationError unless ``source`` is one of the accepted forms; pickle weights
    (which run code when loaded) are refused in every form."""
    if source_kind(source) is None:
        raise ValidationError(
            f"{source!r} is no model source: give a hub id (org/name[@revision][/file]), an "
            "absolute local path (a diffusers folder or a .safetensors file), s3://bucket/prefix "
            "or demo:<name>.",
            code="invalid_source",
        )
    if source.lower().endswith(_PICKLE_SUFFIXES):
        raise ValidationError(
            f"{source!r} is a pickle checkpoint; only .safetensors weights are accepted.",
            code="unsafe_source",
        )
