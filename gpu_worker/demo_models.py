"""The tiny demo models: built once under ILLU_MODELS_DIR/demo, then found by their manifest.

Light on purpose: checking the manifest imports neither torch nor diffusers (about 7 s of CPU
on a small machine), so `make run`'s set-up and the web server pay for them only when the
models really have to be built."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from django.conf import settings
from filelock import FileLock

logger = logging.getLogger(__name__)

DEMO_MODEL = "demo:tiny-sdxl"
# The demo's second checkpoint: the tiny SDXL built from another seed, so its images differ.
DEMO_VARIANT = "demo:tiny-sdxl-b"
_VARIANT_SEED = 20231
_DEMO_DIR = "demo"
_DEMO_MANIFEST = "demo-models.json"
# Raised when the tiny models change (2: control images steer the tiny ControlNets), so a
# cache built by an earlier version is rebuilt rather than used.
_DEMO_VERSION = 2


def ensure_demo_models() -> dict[str, str]:
    """Build the tiny demo models once under ILLU_MODELS_DIR/demo and remember their paths."""
    root = Path(settings.ILLU_MODELS_DIR) / _DEMO_DIR
    manifest = root / _DEMO_MANIFEST
    root.mkdir(parents=True, exist_ok=True)
    # Several processes may ask at once (make run's web and worker, parallel test processes):
    # one builds, the others wait and read its manifest.
    with FileLock(str(root) + ".lock"):
        if manifest.exists():
            recorded = json.loads(manifest.read_text())
            paths = recorded.get("paths") if recorded.get("version") == _DEMO_VERSION else None
            if paths and all(Path(path).exists() for path in paths.values()):
                return paths
        from .engine.preprocessors.tiny_depth import build_tiny_depth_model
        from .engine.tiny_models import build_tiny_models

        logger.info("building the tiny demo models under %s", root)
        built = {key: str(path) for key, path in build_tiny_models(root).items()}
        built["depth"] = str(build_tiny_depth_model(root / "tiny-depth"))
        manifest.write_text(json.dumps({"version": _DEMO_VERSION, "paths": built}, indent=2))
        return built


def ensure_demo_variant() -> str:
    """Build the demo's second checkpoint once under ILLU_MODELS_DIR/demo (beside the others,
    on first use only: most runs never load it) and return its folder."""
    root = Path(settings.ILLU_MODELS_DIR) / _DEMO_DIR
    target = root / "tiny-sdxl-b"
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not (target / "model_index.json").exists():
            import shutil
            import tempfile

            from .engine.tiny_models import build_tiny_sdxl

            # Built aside and moved in whole: a killed build leaves no half model behind.
            building = Path(tempfile.mkdtemp(prefix="tiny-sdxl-b-", dir=root))
            build_tiny_sdxl(building / "model", seed=_VARIANT_SEED)
            shutil.rmtree(target, ignore_errors=True)
            (building / "model").rename(target)
            shutil.rmtree(building, ignore_errors=True)
    return str(target)


def demo_model_path(source: str) -> str | None:
    """The local folder of a ``demo:`` source, built on first use; None for another name."""
    if source == DEMO_MODEL:
        return ensure_demo_models()["sdxl"]
    if source == DEMO_VARIANT:
        return ensure_demo_variant()
    return None


# The demo checkpoints ``make run`` registers (ILLU_DEFAULT_MODEL names the first by default).
DEMO_BASE_MODELS = (
    {"slug": "demo-tiny", "name": "Demo tiny SDXL", "source": DEMO_MODEL},
    {"slug": "demo-tiny-b", "name": "Demo tiny SDXL (variant B)", "source": DEMO_VARIANT},
)


def register_demo_models() -> list[str]:
    """Register the demo checkpoints as base models (once); the slugs registered now."""
    from catalog.base_models import base_model_register

    note = "Random weights for local runs; they draw noise."
    created = [base_model_register(**entry, license_note=note) for entry in DEMO_BASE_MODELS]
    return [model.slug for model, new in created if new]
