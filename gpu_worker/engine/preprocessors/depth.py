"""Depth and normal control images from a transformers depth-estimation model.

Any ``AutoModelForDepthEstimation`` checkpoint works (DPT, Depth Anything, ...), from a local
directory or a Hugging Face repo id; weights are accepted only as ``.safetensors``.
The normal map is derived from that depth with Sobel gradients, so both share one model.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoModelForDepthEstimation

from gpu_worker.engine.preprocessors.errors import PreprocessorModelUnavailable

SETTING = "ILLU_DEPTH_MODEL"

# Model types whose output is metric depth (far = large), unlike DPT / Depth Anything
# relative models, which predict inverse depth (near = large).
_METRIC_MODEL_TYPES = frozenset({"zoedepth", "glpn", "depth_pro"})


@dataclass(frozen=True)
class DepthEstimator:
    model: torch.nn.Module
    processor: object
    device: str
    metric: bool


_cache: dict[tuple[str, str], DepthEstimator] = {}
_cache_lock = threading.Lock()


def _unavailable(model: str | None, why: str) -> PreprocessorModelUnavailable:
    return PreprocessorModelUnavailable(
        f"depth model {model!r} {why}; set {SETTING} to a local model directory or a "
        "Hugging Face repo id of a depth-estimation model (e.g. DPT or Depth Anything)"
    )


def _resolve_source(model: str | None) -> str:
    """A local directory: ``model`` itself, or the hub id's folder in the Hugging Face cache
    (``org/name`` or ``org/name/folder``; only its configs and safetensors are fetched)."""
    from ..errors import ModelUnavailable
    from ..sources import SourceConfig, is_hub_source, resolve_source

    if not model or not model.strip():
        raise _unavailable(model, "is not configured")
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path)
    if path.exists() or not is_hub_source(model):
        raise _unavailable(model, "is not a directory on this machine")
    try:
        return resolve_source(model, SourceConfig(), layout="model")
    except ModelUnavailable as error:
        raise _unavailable(model, f"could not be found ({error})") from error


def _is_metric(config: object) -> bool:
    return (
        getattr(config, "depth_estimation_type", None) == "metric"
        or getattr(config, "model_type", "") in _METRIC_MODEL_TYPES
    )


def load_depth_model(model: str | None, device: str = "cpu") -> DepthEstimator:
    """Load (once per process and device) the depth model named by ``ILLU_DEPTH_MODEL``."""
    source = _resolve_source(model)
    key = (source, device)
    with _cache_lock:  # a lock, so two threads never load the same weights twice
        if key not in _cache:
            try:
                processor = AutoImageProcessor.from_pretrained(source)
                network = AutoModelForDepthEstimation.from_pretrained(source, use_safetensors=True)
            except (OSError, ValueError) as error:
                raise _unavailable(model, f"could not be loaded ({error})") from error
            network = network.to(device).eval()
            _cache[key] = DepthEstimator(network, processor, device, _is_metric(network.config))
        return _cache[key]


def nearness(raw: np.ndarray, *, metric: bool) -> np.ndarray:
    """Raw model output -> float32 in [0, 1] with near = 1 (min-max per image)."""
    values = raw.astype(np.float32)
    if metric:
        values = 1.0 / np.maximum(values, 1e-6)  # inverse depth, as ControlNets were trained on
    span = float(values.max() - values.min())
    if span < 1e-12:
        return np.zeros_like(values)  # no depth structure at all: flat "far" image
    return (values - values.min()) / span


def estimate_depth(image: Image.Image, *, model: str | None, device: str = "cpu") -> np.ndarray:
    """Near=1 depth of ``image`` as float32 (height, width), at the image's own size."""
    estimator = load_depth_model(model, device)
    inputs = estimator.processor(images=image.convert("RGB"), return_tensors="pt").to(device)
    with torch.inference_mode():
        predicted = estimator.model(**inputs).predicted_depth  # (batch, h, w), model size
    resized = torch.nn.functional.interpolate(
        predicted.unsqueeze(1).float(),
        size=(image.height, image.width),
        mode="bicubic",
        align_corners=False,
    )
    return nearness(resized[0, 0].cpu().numpy(), metric=estimator.metric)


def depth_map(image: Image.Image, *, model: str | None, device: str = "cpu") -> Image.Image:
    """Grayscale depth in RGB: near bright, far dark."""
    gray = np.rint(estimate_depth(image, model=model, device=device) * 255).astype(np.uint8)
    return Image.fromarray(np.stack([gray] * 3, axis=-1), mode="RGB")


def normal_from_depth(
    depth: np.ndarray, *, strength: float = 0.5, background_threshold: float = 0.1
) -> np.ndarray:
    """Near=1 depth (h, w) -> uint8 RGB normal map (h, w, 3).

    Follows the ControlNet "normal from MiDaS" annotator: R and G carry the Sobel slopes of
    the depth, B the part facing the camera, each mapped from [-1, 1] to [0, 255]. A flat
    region is (128, 128, 255). ``strength`` is the full depth range measured in image
    widths, so the map looks the same at any resolution. Far background pixels
    (``depth < background_threshold``) are treated as flat, as the annotator does.
    """
    import cv2  # only here: the engine imports without OpenCV

    # Sobel 3x3 weighs a unit-per-pixel slope by 8; rescale to "depth range per image".
    scale = strength * max(depth.shape) / 8.0
    dx = cv2.Sobel(depth.astype(np.float32), cv2.CV_32F, 1, 0, ksize=3) * scale
    dy = cv2.Sobel(depth.astype(np.float32), cv2.CV_32F, 0, 1, ksize=3) * scale
    background = depth < background_threshold
    dx[background] = 0.0
    dy[background] = 0.0
    normal = np.stack([dx, dy, np.ones_like(dx)], axis=-1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    return np.clip(np.rint(normal * 127.5 + 127.5), 0, 255).astype(np.uint8)


def normal_map(
    image: Image.Image,
    *,
    model: str | None,
    device: str = "cpu",
    strength: float = 0.5,
    background_threshold: float = 0.1,
) -> Image.Image:
    """RGB normal map derived from the depth model's output (see ``normal_from_depth``)."""
    depth = estimate_depth(image, model=model, device=device)
    normals = normal_from_depth(depth, strength=strength, background_threshold=background_threshold)
    return Image.fromarray(normals, mode="RGB")
