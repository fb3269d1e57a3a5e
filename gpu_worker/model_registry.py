"""The worker's side of the model registry: a job names its base model by slug
(``params["model"]``); this finds what to load for it (``catalog.selectors.model_load_spec``),
and names the model (slug and weights sha256) in the images' manifests, recording the sha256
on the registry row the first time the weights are seen.

A job from before the registry (or a deployment without one) names the configured weights'
source instead of a slug; that source is loaded as it is."""

from __future__ import annotations

import hashlib

from catalog.base_models import base_model_record_sha256
from catalog.selectors import model_load_spec

from .demo_models import demo_model_path


def source_for(model: str, configured: dict[str, str]) -> str:
    """What the engine loads for the job's ``model``: a registered slug's source, else the
    name itself; a ``demo:`` source is the folder of that demo model. ``configured`` maps the
    legacy demo name to the configured weights (``runtime.model_set``)."""
    if model in configured:
        return configured[model]
    spec = model_load_spec(model)
    source = spec["source"] if spec else model
    return demo_model_path(source) or source


def vae_for(model: str) -> str | None:
    """A registered model's own VAE source (a ``demo:`` one: that demo model's folder);
    None when it names none, and the engine's default (ILLU_SDXL_VAE) applies."""
    spec = model_load_spec(model)
    vae = (spec or {}).get("vae") or ""
    return (demo_model_path(vae) or vae) or None


def weights_sha256(digests: dict[str, str]) -> str | None:
    """One sha256 for a model's weights files: of their sorted ``name:digest`` lines (as the
    LoRA trainer's manifest records its base model)."""
    if not digests:
        return None
    lines = "".join(f"{name}:{digest}\n" for name, digest in sorted(digests.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def name_model(manifest: dict, model: str) -> dict:
    """The manifest with its model named: ``slug`` (the job's ``params.model``) and ``sha256``
    of the weights it loaded. A registered model's source stays staff-only: users see the
    manifest, and the slug and sha256 identify the weights."""
    record = dict(manifest.get("model") or {})
    record["slug"] = model
    record["sha256"] = weights_sha256(record.get("weights_sha256") or {})
    if model_load_spec(model) is not None:
        record.pop("source", None)
    return {**manifest, "model": record}


def record_weights(manifest: dict) -> None:
    """Fill the registry row's sha256 from a manifest ``name_model`` wrote, once."""
    record = manifest.get("model") or {}
    if record.get("sha256") and record.get("slug"):
        base_model_record_sha256(slug=record["slug"], sha256=record["sha256"])
