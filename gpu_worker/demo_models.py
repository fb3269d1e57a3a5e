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
