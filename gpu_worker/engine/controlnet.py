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

from .devices import DeviceProfile
from .errors import InvalidSpec, ModelUnavailable
from .spec import ControlSpec
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


def is_union_controlnet(model_dir: Path) -> bool:
    config = Path(model_dir) / "config.json"
    if not config.is_file():
        raise ModelUnavailable(f"No ControlNet at {model_dir} (config.json missing).")
    return json.loads(config.read_text()).get("_class_name") == "ControlNetUnionModel"


class ControlNetCache:
    """ControlNet models by directory, loaded once per worker process."""

    def __init__(self, profile: DeviceProfile):
        self.profile = profile
        self.loads = 0
        self._models: dict[str, Any] = {}
        self._lock = Lock()

    def loaded(self) -> list[str]:
        return list(self._models)

    def get(self, model_dir: str):
        with self._lock:
            if model_dir not in self._models:
                self._models[model_dir] = self._load(Path(model_dir))
                self.loads += 1
            return self._models[model_dir]

    def _load(self, model_dir: Path):
        from diffusers import ControlNetModel, ControlNetUnionModel

        for weights in model_dir.glob("*.safetensors"):
            read_safetensors_header(weights)
        model_class = ControlNetUnionModel if is_union_controlnet(model_dir) else ControlNetModel
        try:
            model = model_class.from_pretrained(
                model_dir, torch_dtype=self.profile.dtype, use_safetensors=True
            )
        except (OSError, ValueError) as exc:
            raise ModelUnavailable(f"Could not load ControlNet {model_dir}: {exc}") from exc
        logger.info("loaded %s from %s", model_class.__name__, model_dir)
        return model.to(self.profile.device)


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

    unions = {is_union_controlnet(Path(control.model)) for control in controls}
    if len(unions) > 1:
        raise InvalidSpec("Use either Union ControlNets or single-type ControlNets in one job.")
    images = [_control_image(control, width, height) for control in controls]
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


def _control_image(control: ControlSpec, width: int, height: int) -> Image.Image:
    image = control.image
    if control.preprocess:
        image = _run_preprocessor(control.kind, image, width, height)
    image = image.convert("RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BICUBIC)
    return image


def _run_preprocessor(kind: str, image: Image.Image, width: int, height: int) -> Image.Image:
    # Imported lazily: preprocessing is a separate module with its own optional dependencies.
    try:
        from .preprocessors import preprocess
    except ImportError as exc:
        raise InvalidSpec(f"Preprocessing is not available in this worker: {exc}") from exc
    return preprocess(kind, image, width=width, height=height)


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
