"""Loading pipelines from a model source and keeping them warm in the worker process."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from threading import Lock

from .devices import DeviceProfile
from .errors import ModelUnavailable

logger = logging.getLogger(__name__)


def is_local_source(source: str) -> bool:
    return source.startswith(("/", "./", "../")) or Path(source).is_dir()


def load_sdxl_pipeline(source: str, profile: DeviceProfile):
    """Load an SDXL pipeline from a Hugging Face repo id or a local diffusers directory.

    Only safetensors weights are accepted: pickle checkpoints run code when loaded.
    """
    from diffusers import StableDiffusionXLPipeline

    if is_local_source(source) and not (Path(source) / "model_index.json").exists():
        raise ModelUnavailable(
            f"No diffusers model at {source!r} (model_index.json missing); check ILLU_SDXL_MODEL."
        )
    try:
        pipeline = StableDiffusionXLPipeline.from_pretrained(
            source, torch_dtype=profile.dtype, use_safetensors=True
        )
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"Could not load SDXL model {source!r}: {exc}") from exc
    pipeline.set_progress_bar_config(disable=True)
    return pipeline.to(profile.device)


class PipelineCache:
    """One warm pipeline per model source in this process; loads are timed."""

    def __init__(self, profile: DeviceProfile):
        self.profile = profile
        self._pipelines: dict[str, object] = {}
        self._lock = Lock()

    def get(self, source: str) -> tuple[object, int]:
        """Return (pipeline, load_ms); load_ms is 0 when it was already warm."""
        with self._lock:
            if source in self._pipelines:
                return self._pipelines[source], 0
            started = time.perf_counter()
            pipeline = load_sdxl_pipeline(source, self.profile)
            load_ms = int((time.perf_counter() - started) * 1000)
            logger.info("loaded pipeline %s on %s in %d ms", source, self.profile.name, load_ms)
            self._pipelines[source] = pipeline
            return pipeline, load_ms

    def loaded(self) -> list[str]:
        return list(self._pipelines)
