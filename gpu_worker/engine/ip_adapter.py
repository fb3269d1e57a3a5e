"""IP-Adapter: reference images steer generation through extra cross-attention.

Loading replaces the UNet's cross-attention processors and adds an image projection, and a
UNet with that projection requires image embeddings on every call. The adapter stays loaded
between jobs: a job without reference images runs without its tokens (the projection is taken
out and the engine sets processors without image attention, exactly the plain UNet), and the
next reference job puts both back from memory: nothing is read from disk again. Another
adapter replaces it; the CLIP image encoders (the large part) are kept across that switch.
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
    """The IP-Adapter loaded into one pipeline (if any), its processors and image projection
    kept for the jobs that use it, and the image encoders kept across adapter switches."""

    def __init__(self) -> None:
        self.attached: Path | None = None
        self.loads = 0
        self.processors: dict | None = None  # the UNet's processors with image attention
        self._projection = None  # the UNet's image projection (encoder_hid_proj)
        self._encoders: dict[Path, object] = {}

    def use(self, pipeline, weights: Path, plain_processors: dict) -> dict:
        """Load ``weights`` unless it is the loaded adapter, put its image projection into
        the UNet, and return its processors (the caller sets them, then the scale)."""
        weights = Path(weights)
        if self.attached != weights:
            self.unload(pipeline)
            # The adapter's self-attention processors are copies of the current ones: plain.
            pipeline.unet.set_attn_processor(dict(plain_processors))
            self._load(pipeline, weights)
            self.processors = dict(pipeline.unet.attn_processors)
            self._projection = pipeline.unet.encoder_hid_proj
        pipeline.unet.encoder_hid_proj = self._projection
        pipeline.unet.config.encoder_hid_dim_type = "ip_image_proj"
        return self.processors

    def rest(self, pipeline) -> None:
        """Take the image tokens out (as ``unload_ip_adapter`` does), keeping the weights."""
        if self.attached is None:
            return
        pipeline.unet.encoder_hid_proj = None
        pipeline.unet.config.encoder_hid_dim_type = None

    def unload(self, pipeline) -> None:
        if self.attached is None:
            return
        pipeline.unload_ip_adapter()
        self.attached = None
        self.processors = None
        self._projection = None

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
