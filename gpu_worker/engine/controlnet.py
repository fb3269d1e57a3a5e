"""ControlNet conditioning: single-type ControlNetModel and the SDXL Union ControlNet.

ControlNet models are loaded once and kept; a job builds a ControlNet pipeline around the
warm base pipeline's modules (no weights copied), so LoRA and IP-Adapter state are shared.
Several controls each keep their own conditioning scale: single-type models run as a
MultiControlNet, and Union controls run as a MultiControlNetUnion of the same Union model
(one pass per control, since the fused Union pass takes a single scale).
"""

from __future__ import annotations

import inspect
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Any

from PIL import Image

from .config import EngineConfig
from .devices import DeviceProfile
from .errors import InvalidSpec, ModelUnavailable
from .frozen import freeze
from .hub import model_folder_weights
from .sources import resolve_source
from .spec import ControlSpec
from .weight_hashes import WEIGHT_HASHES
from .weights import read_safetensors_header

logger = logging.getLogger(__name__)

# Control type index of xinsir/controlnet-union-sdxl-1.0 (ProMax adds tile=6, repaint=7).
UNION_CONTROL_MODES = {
    "openpose": 0,
    "pose": 0,
    "depth": 1,
    "hed": 2,
    "pidi": 2,
    "scribble": 2,
    "softedge": 2,
    "canny": 3,
    "lineart": 3,
    "mlsd": 3,
    "normal": 4,
    "segmentation": 5,
    "seg": 5,
    "tile": 6,
    "repaint": 7,
}


def is_union_config(config: dict) -> bool:
    """A Union ControlNet by its config: diffusers' class name, or the control-type count that
    xinsir's published config carries under the class name ``ControlNetModel``."""
    return config.get("_class_name") == "ControlNetUnionModel" or "num_control_type" in config


def is_union_controlnet(model_dir: Path) -> bool:
    config = Path(model_dir) / "config.json"
    if not config.is_file():
        raise ModelUnavailable(f"No ControlNet at {model_dir} (config.json missing).")
    return is_union_config(json.loads(config.read_text()))


@dataclass(frozen=True)
class ControlNetFiles:
    """What one ControlNet source loads: its config and weights files."""

    folder: Path
    config: Path
    weights: tuple[Path, ...]
    variant: str | None  # the standard files' variant ("fp16"), None for plain or named files
    named: bool  # a weights file named by the source (xinsir's _promax), not the standard ones

    @property
    def union(self) -> bool:
        return is_union_config(json.loads(self.config.read_text()))


def locate_controlnet(local: Path, prefer_fp16: bool) -> ControlNetFiles:
    """The files of a local ControlNet: a folder (config.json and its standard weights, the
    fp16 variant when preferred and published) or one weights file in such a folder, paired
    with the config of the same suffix (``diffusion_pytorch_model_promax.safetensors`` with
    ``config_promax.json``) or else ``config.json``."""
    local = Path(local)
    if local.is_file():
        suffix = local.stem.removeprefix("diffusion_pytorch_model")
        config = local.parent / f"config{suffix}.json"
        if not config.is_file():
            config = local.parent / "config.json"
        files = ControlNetFiles(local.parent, config, (local,), None, named=True)
    else:
        weights, variant = model_folder_weights(local, prefer_fp16)
        files = ControlNetFiles(local, local / "config.json", tuple(weights), variant, named=False)
    if not files.config.is_file():
        raise ModelUnavailable(f"No ControlNet at {local} (config.json missing).")
    if not files.weights:
        raise ModelUnavailable(f"No ControlNet weights (.safetensors) at {local}.")
    return files


class ControlNetCache:
    """ControlNet models by source (a directory, one weights file, an s3:// URI already
    fetched, or a hub id), loaded once per worker process. Also what the preprocessors need:
    the depth model and the device they run on."""

    def __init__(self, profile: DeviceProfile, config: EngineConfig | None = None):
        self.profile = profile
        self.config = config or EngineConfig()
        self.loads = 0
        self._models: dict[str, Any] = {}
        self._files: dict[str, ControlNetFiles] = {}
        self._lock = Lock()

    @property
    def depth_model(self) -> str | None:
        return self.config.depth_model

    def loaded(self) -> list[str]:
        return list(self._models)

    def adopt(self, source: str, model) -> None:
        """Keep an already built ControlNet (the GPU check builds one in GPU memory)."""
        freeze([model])
        with self._lock:
            self._models[source] = model

    def files(self, source: str) -> ControlNetFiles:
        """Where ``source``'s config and weights are (resolving a hub id once)."""
        with self._lock:
            return self._locate(source)

    def is_union(self, source: str) -> bool:
        with self._lock:
            model = self._models.get(source)
            if model is not None:
                return "num_control_type" in model.config
            return self._locate(source).union

    def get(self, source: str):
        with self._lock:
            if source not in self._models:
                self._models[source] = self._load(source)
                self.loads += 1
            return self._models[source]

    def _locate(self, source: str) -> ControlNetFiles:
        if source not in self._files:
            local = resolve_source(
                source,
                self.config.source_config(),
                layout="model",
                prefer_fp16=prefers_half(self.profile.dtype),
            )
            self._files[source] = locate_controlnet(Path(local), prefers_half(self.profile.dtype))
        return self._files[source]

    def _load(self, source: str):
        from diffusers import ControlNetModel, ControlNetUnionModel

        files = self._locate(source)
        for weights in files.weights:
            read_safetensors_header(weights)
        model_class = ControlNetUnionModel if files.union else ControlNetModel
        try:
            if files.named:
                model = _from_named_file(model_class, files, self.profile.dtype)
            else:
                model = model_class.from_pretrained(
                    files.folder,
                    torch_dtype=self.profile.dtype,
                    use_safetensors=True,
                    variant=files.variant,
                )
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelUnavailable(f"Could not load ControlNet {source}: {exc}") from exc
        WEIGHT_HASHES.record_loaded((source, str(files.folder)), files.folder, files.weights)
        logger.info("loaded %s from %s", model_class.__name__, source)
        freeze([model])  # loaded trainable; see ``frozen``
        return model.to(self.profile.device)


def _from_named_file(model_class, files: ControlNetFiles, dtype):
    """A ControlNet from a config and a weights file of another name than diffusers' own."""
    import torch
    from safetensors.torch import load_file

    config = {k: v for k, v in json.loads(files.config.read_text()).items() if k != "_class_name"}
    with torch.device("meta"):
        model = model_class.from_config(config)
    state: dict = {}
    for weights in files.weights:
        state.update(load_file(weights))
    model.load_state_dict(state, strict=True, assign=True)
    return model.to(dtype).eval()


def prefers_half(dtype) -> bool:
    import torch

    return dtype in (torch.float16, torch.bfloat16)


@dataclass
class PreparedControls:
    """What the ControlNet pipeline call needs, plus the images for the result."""

    pipeline_class: type
    controlnet: Any
    call_kwargs: dict[str, Any]
    images: list[Image.Image]


def prepare_controls(
    controls: tuple[ControlSpec, ...], cache: ControlNetCache, width: int, height: int
) -> PreparedControls:
    from diffusers import (
        StableDiffusionXLControlNetPipeline,
        StableDiffusionXLControlNetUnionPipeline,
    )
    from diffusers.models.controlnets import MultiControlNetUnionModel

    unions = {cache.is_union(control.model) for control in controls}
    if len(unions) > 1:
        raise InvalidSpec("Use either Union ControlNets or single-type ControlNets in one job.")
    images = [_control_image(control, width, height, cache) for control in controls]
    models = [cache.get(control.model) for control in controls]
    kwargs: dict[str, Any] = {
        "controlnet_conditioning_scale": [float(control.scale) for control in controls],
        "control_guidance_start": [control.guidance_start for control in controls],
        "control_guidance_end": [control.guidance_end for control in controls],
    }
    if unions == {True}:
        kwargs["control_image"] = images
        kwargs["control_mode"] = [
            _union_mode(control, model) for control, model in zip(controls, models, strict=True)
        ]
        return PreparedControls(
            StableDiffusionXLControlNetUnionPipeline,
            MultiControlNetUnionModel(models),
            kwargs,
            images,
        )
    kwargs["image"] = images
    return PreparedControls(StableDiffusionXLControlNetPipeline, models, kwargs, images)


def _union_mode(control: ControlSpec, model) -> int:
    mode = UNION_CONTROL_MODES.get(control.kind.lower())
    if mode is None or mode >= model.config.num_control_type:
        known = ", ".join(sorted(UNION_CONTROL_MODES))
        raise InvalidSpec(f"Control kind {control.kind!r} is not a Union mode ({known}).")
    return mode


def _control_image(
    control: ControlSpec, width: int, height: int, cache: ControlNetCache
) -> Image.Image:
    image = control.image
    if control.preprocess:
        image = _run_preprocessor(control.kind, image, width, height, cache)
    image = image.convert("RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BICUBIC)
    return image


# Preprocessors that run a model: on the engine's device, with the configured depth model.
_MODEL_PREPROCESSORS = frozenset({"depth", "normal"})


def _run_preprocessor(
    kind: str, image: Image.Image, width: int, height: int, cache: ControlNetCache
) -> Image.Image:
    # Imported lazily: preprocessing is a separate module with its own optional dependencies.
    try:
        from .preprocessors import preprocess
    except ImportError as exc:
        raise InvalidSpec(f"Preprocessing is not available in this worker: {exc}") from exc
    options = {}
    if kind in _MODEL_PREPROCESSORS:
        options = {"model": cache.depth_model, "device": cache.profile.device}
    return preprocess(kind, image, width=width, height=height, **options)


def build_view(base_pipeline, pipeline_class: type, **extra_modules):
    """A pipeline of ``pipeline_class`` sharing the warm base pipeline's modules (no copies)."""
    parameters = inspect.signature(pipeline_class.__init__).parameters
    modules = {
        name: module for name, module in base_pipeline.components.items() if name in parameters
    }
    config = {
        name: base_pipeline.config[name]
        for name in ("force_zeros_for_empty_prompt", "add_watermarker")
        if name in parameters and name in base_pipeline.config
    }
    view = pipeline_class(**modules, **extra_modules, **config)
    view.set_progress_bar_config(disable=True)
    return view
