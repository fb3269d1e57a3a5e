"""A job's base model, from its slug to what the engine loads, and what its run says back.

``params["model"]`` is a registry slug (``catalog.BaseModel``, read through
``catalog.selectors.model_load_spec``); a job queued before the registry, or by a deployment
without one, names a source directly (``demo:tiny-sdxl``, a hub id, a path). Demo sources are
built on this worker: ``demo:tiny-sdxl`` is the tiny model, any other ``demo:<name>`` a
variant of it with its own UNet drawn from a seed derived from the name (same text encoders
and VAE, so they are shared when both are resident; different images)."""

from __future__ import annotations

import hashlib
import logging
import zlib
from pathlib import Path

from django.conf import settings
from filelock import FileLock

from .demo_models import DEMO_MODEL
from .runtime import model_set

logger = logging.getLogger(__name__)

DEMO_PREFIX = "demo:"
_SLUG_OF: dict[str, str] = {}  # engine source -> the slug a job named it by, in this process


def job_model_source(model: str) -> str:
    """What the engine loads for a job's ``params["model"]``."""
    from catalog.selectors import model_load_spec

    spec = model_load_spec(model)
    source = engine_source(spec["source"] if spec else model)
    _SLUG_OF[source] = model
    return source


def resident_slugs(sources: list[str]) -> list[str]:
    """The slugs of the engine's resident sources (a source no job named: as it is)."""
    return [_SLUG_OF.get(source, source) for source in sources]


def engine_source(source: str) -> str:
    """A registry source as the engine takes it: demo sources become built folders."""
    if source == DEMO_MODEL:
        return model_set().sdxl
    if source.startswith(DEMO_PREFIX) and not settings.ILLU_SDXL_MODEL:
        return str(demo_variant(source.removeprefix(DEMO_PREFIX)))
    return source


def demo_variant(name: str) -> Path:
    """The demo variant ``name``, built once under ILLU_MODELS_DIR/demo/variants."""
    from .engine.tiny_variants import build_tiny_variant

    root = Path(settings.ILLU_MODELS_DIR) / "demo" / "variants"
    root.mkdir(parents=True, exist_ok=True)
    target = root / name
    with FileLock(str(target) + ".lock"):  # several workers may ask at once
        return build_tiny_variant(Path(model_set().sdxl), target, seed=zlib.crc32(name.encode()))


def weights_sha256(digests: dict[str, str]) -> str:
    """One sha256 for a model's weights: a single file's own digest, else the digest of its
    files' ``path:sha256`` lines in path order (a folder's files hashed one by one)."""
    if len(digests) == 1:
        return next(iter(digests.values()))
    lines = "".join(f"{path}:{digest}\n" for path, digest in sorted(digests.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def base_model_fill_sha256(*, slug: str, local_path: str) -> bool:
    """Record the registry model's weights sha256 once its weights were fetched and hashed
    (only where it is still blank: a model's weights never change under its slug). True when
    this call filled it."""
    from catalog.models import BaseModel

    if not BaseModel.objects.filter(slug=slug, sha256="").exists():
        return False
    from .engine.manifest import model_digests

    digest = weights_sha256(model_digests(local_path))
    return bool(BaseModel.objects.filter(slug=slug, sha256="").update(sha256=digest))


def fill_model_sha256(engine, slug: str) -> None:
    """After a run on ``slug``: fill its registry sha256 from the weights the engine loaded,
    if still blank. Never fails the run (the manifest has the digests anyway)."""
    try:
        source = job_model_source(slug)
        warm = dict(engine.pipelines.items()).get(source)
        if warm is not None and base_model_fill_sha256(slug=slug, local_path=warm.local_path):
            logger.info("recorded the weights sha256 of base model %s", slug)
    except Exception:
        logger.exception("could not record the weights sha256 of base model %s", slug)
