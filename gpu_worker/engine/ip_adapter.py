"""IP-Adapter: reference images steer generation through extra cross-attention.

Loading replaces the UNet's cross-attention processors, and a UNet with IP-Adapter
processors requires image embeddings on every call, so a text-only job runs with the adapter
unloaded. The CLIP image encoder (the large part) is kept in memory across that switch and
re-registered, so re-attaching the adapter reads only its projection weights.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .errors import ModelUnavailable
from .weights import read_safetensors_header

logger = logging.getLogger(__name__)

IMAGE_ENCODER_DIRNAME = "image_encoder"


def image_encoder_dir(weights: Path) -> Path:
    """The image encoder lives beside the weights file, as in h94/IP-Adapter's sdxl_models."""
    return weights.parent / IMAGE_ENCODER_DIRNAME


def ip_adapter_files(weights: Path) -> list[Path]:
    """Every weights file an IP-Adapter uses (for the manifest)."""
    return [weights, *sorted(image_encoder_dir(weights).glob("*.safetensors"))]


class IPAdapterState:
    """Which IP-Adapter (if any) is attached to one pipeline, plus the kept image encoders."""

    def __init__(self) -> None:
        self.attached: Path | None = None
        self.loads = 0
        self._encoders: dict[Path, object] = {}

    def attach(self, pipeline, weights: Path, scale: float) -> None:
        weights = Path(weights)
        if self.attached != weights:
            self.detach(pipeline)
            self._load(pipeline, weights)
        pipeline.set_ip_adapter_scale(scale)

    def detach(self, pipeline) -> None:
        if self.attached is None:
            return
        pipeline.unload_ip_adapter()
        self.attached = None

    def _load(self, pipeline, weights: Path) -> None:
        if not weights.is_file() or not image_encoder_dir(weights).is_dir():
            raise ModelUnavailable(
                f"IP-Adapter not found: need {weights} with {IMAGE_ENCODER_DIRNAME}/ beside it."
            )
        read_safetensors_header(weights)
        for encoder_file in image_encoder_dir(weights).glob("*.safetensors"):
            read_safetensors_header(encoder_file)
        encoder = self._encoders.get(weights)
        if encoder is not None:
            # load_ip_adapter skips loading an encoder when the pipeline already has one.
            pipeline.register_modules(image_encoder=encoder)
        try:
            pipeline.load_ip_adapter(
                str(weights.parent),
                subfolder="",
                weight_name=weights.name,
                image_encoder_folder=IMAGE_ENCODER_DIRNAME,
                local_files_only=True,
            )
        except (OSError, ValueError, KeyError) as exc:
            raise ModelUnavailable(f"Could not load IP-Adapter {weights}: {exc}") from exc
        self._encoders[weights] = pipeline.image_encoder
        self.attached = weights
        self.loads += 1
        logger.info("attached IP-Adapter %s", weights)
