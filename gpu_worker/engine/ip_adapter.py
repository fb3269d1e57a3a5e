"""IP-Adapter: reference images steer generation through extra cross-attention.

The weights are a local file or a hub id of one (h94/IP-Adapter's ``sdxl_models/...``); the
image encoder is the one that fits the adapter, found as h94's repository lays them out
(``locate_ip_adapter``).

Loading replaces the UNet's cross-attention processors and adds an image projection, and a
UNet with that projection requires image embeddings on every call. The adapter stays loaded
between jobs: a job without reference images runs without its tokens (the projection is taken
out and the engine sets processors without image attention, exactly the plain UNet), and the
next reference job puts both back from memory: nothing is read from disk again. Another
adapter replaces it; the CLIP image encoders (the large part) are kept across that switch.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

from .errors import ModelUnavailable
from .hub import (
    choose_file,
    fetch_files,
    model_folder_files,
    model_folder_weights,
    parse_hub_ref,
    repo_files,
)
from .weight_hashes import WEIGHT_HASHES
from .weights import read_safetensors_header

logger = logging.getLogger(__name__)

IMAGE_ENCODER_DIRNAME = "image_encoder"
# Where h94/IP-Adapter keeps each encoder, relative to the adapter's folder: the bigG one
# beside the SDXL adapters (sdxl_models/image_encoder), the ViT-H one that the "_vit-h" and
# "plus" SDXL adapters take in the repository's models/image_encoder.
_ENCODER_CANDIDATES = (IMAGE_ENCODER_DIRNAME, f"../models/{IMAGE_ENCODER_DIRNAME}")


@dataclass(frozen=True)
class IPAdapterFiles:
    """An adapter weights file and the image encoder folder it takes, with what
    ``load_ip_adapter`` is given to find both (folder, subfolder, weight and encoder names)."""

    weights: Path
    encoder: Path

    @property
    def root(self) -> Path:
        return Path(os.path.commonpath([self.weights.parent, self.encoder]))

    @property
    def subfolder(self) -> str:
        return self.weights.parent.relative_to(self.root).as_posix().removeprefix(".")

    @property
    def encoder_folder(self) -> str:
        relative = self.encoder.relative_to(self.root).as_posix()
        # diffusers joins a bare name to the subfolder and takes a path with "/" as given.
        return relative if "/" in relative or not self.subfolder else f"./{relative}"

    def all_files(self) -> list[Path]:
        """The adapter file and the encoder weights ``load_ip_adapter`` reads (plain files)."""
        return [self.weights, *model_folder_weights(self.encoder, prefer_fp16=False)[0]]


def locate_ip_adapter(weights: Path | str) -> IPAdapterFiles:
    """The adapter at ``weights`` (a local file or a hub id such as
    ``h94/IP-Adapter/sdxl_models/ip-adapter_sdxl_vit-h.safetensors``) and the image encoder
    that fits it: the candidate folder whose widths match the adapter's image projection
    (plain adapters read the encoder's ``projection_dim``, plus adapters its ``hidden_size``),
    ``image_encoder/`` beside the weights first."""
    source = str(weights)
    if not Path(source).expanduser().exists() and parse_hub_ref(source) is not None:
        return _locate_on_hub(source)
    weights = Path(source).expanduser()
    if not weights.is_file():
        raise ModelUnavailable(f"IP-Adapter weights not found: {weights}.")
    candidates = [_normal(weights.parent / name) for name in _ENCODER_CANDIDATES]
    return IPAdapterFiles(weights, _matching_encoder(weights, candidates))


def image_encoder_dir(weights: Path) -> Path:
    """The image encoder folder the adapter at ``weights`` takes."""
    return locate_ip_adapter(weights).encoder


def ip_adapter_files(weights: Path) -> list[Path]:
    """Every weights file an IP-Adapter uses (for the manifest)."""
    return locate_ip_adapter(weights).all_files()


def _matching_encoder(weights: Path, candidates: list[Path]) -> Path:
    present = [folder for folder in candidates if (folder / "config.json").is_file()]
    if not present:
        raise ModelUnavailable(
            f"IP-Adapter not found: need {weights} with an {IMAGE_ENCODER_DIRNAME}/ folder "
            f"beside it or in ../models/ (as in h94/IP-Adapter)."
        )
    wanted = _projection_input(read_safetensors_header(weights))
    if wanted is None:
        return present[0]
    for folder in present:
        config = json.loads((folder / "config.json").read_text())
        config = config.get("vision_config", config)
        if config.get(wanted[0]) == wanted[1]:
            return folder
    raise ModelUnavailable(
        f"No image encoder fits IP-Adapter {weights.name}: it needs {wanted[0]} = {wanted[1]}, "
        f"found in none of {', '.join(str(f) for f in present)}."
    )


def _projection_input(header: dict) -> tuple[str, int] | None:
    """(encoder config field, width) the adapter's image projection reads, when known."""
    plain = header.get("image_proj.proj.weight")
    if plain is not None:
        return "projection_dim", plain["shape"][1]
    plus = header.get("image_proj.proj_in.weight")
    if plus is not None:
        return "hidden_size", plus["shape"][1]
    return None


@lru_cache(maxsize=32)
def _locate_on_hub(source: str) -> IPAdapterFiles:
    """Fetch the adapter file, the candidate encoders' configs, then only the fitting
    encoder's weights."""
    ref = parse_hub_ref(source)
    if not ref.path.endswith(".safetensors"):
        raise ModelUnavailable(f"{source}: name the adapter's .safetensors file in the repo.")
    listing = repo_files(ref)
    snapshot = fetch_files(ref, choose_file(listing, ref))
    folder = PurePosixPath(ref.path).parent
    candidates = [_posix_normal(folder / name) for name in _ENCODER_CANDIDATES]
    candidates = [c for c in candidates if not c.startswith("..")]
    configs = [f"{c}/config.json" if c else "config.json" for c in candidates]
    fetch_files(ref, [name for name in configs if name in listing])
    weights = snapshot / ref.path
    encoder = _matching_encoder(weights, [snapshot / c for c in candidates])
    relative = encoder.relative_to(snapshot).as_posix()
    fetch_files(ref, model_folder_files(listing, relative, prefer_fp16=False))
    return IPAdapterFiles(weights, encoder)


def _normal(path: Path) -> Path:
    return Path(os.path.normpath(path))


def _posix_normal(path: PurePosixPath) -> str:
    return posixpath.normpath(str(path)).removeprefix("./").removeprefix(".")


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
        files = locate_ip_adapter(weights)
        for weights_file in files.all_files():
            read_safetensors_header(weights_file)
        encoder = self._encoders.get(weights)
        if encoder is not None:
            # load_ip_adapter skips loading an encoder when the pipeline already has one.
            pipeline.register_modules(image_encoder=encoder)
        try:
            pipeline.load_ip_adapter(
                str(files.root),
                subfolder=files.subfolder,
                weight_name=files.weights.name,
                image_encoder_folder=files.encoder_folder,
                local_files_only=True,
            )
        except (OSError, ValueError, KeyError) as exc:
            raise ModelUnavailable(f"Could not load IP-Adapter {weights}: {exc}") from exc
        self._encoders[weights] = pipeline.image_encoder
        self.attached = weights
        self.loads += 1
        WEIGHT_HASHES.record_loaded((str(weights),), files.root, files.all_files())
        logger.info("attached IP-Adapter %s", weights)
