"""ControlNet preprocessors: turn a photo into the control image a ControlNet expects.

Every kind returns an RGB ``PIL.Image`` of exactly ``(width, height)``. The photo is first
made upright RGB and brought to that size keeping its aspect ratio: ``fit="cover"``
(default) fills the frame and centre-crops the overflow; ``fit="contain"`` letterboxes it
with black bars. Then the kind's preprocessor runs at that size.

=============  ===================================================  =========================
kind           result                                               options (defaults)
=============  ===================================================  =========================
canny          white 1-px edges on black, values exactly 0 / 255    low_threshold=100,
                                                                    high_threshold=200
scribble       thick binary strokes along the main outlines         low_threshold=50,
                                                                    high_threshold=120,
                                                                    thickness, min_edge_pixels
depth          grayscale depth in RGB, near bright                  model (ILLU_DEPTH_MODEL),
                                                                    device="cpu"
normal         normal map from that depth; flat = (128, 128, 255)   model, device, strength=0.5,
                                                                    background_threshold=0.1
segmentation   people in ADE20K "person" colour (or white) on black threshold=0.5,
                                                                    style="ade20k" | "mask"
pose           OpenPose-coloured skeleton on black                  min_visibility=0.5,
                                                                    min_detection_confidence=0.5
=============  ===================================================  =========================

``depth``/``normal`` load the transformers depth model at ``model`` (a local directory or a
Hugging Face repo id) once per process and device, and raise ``PreprocessorModelUnavailable``
naming ``ILLU_DEPTH_MODEL`` when it is missing. ``pose``/``segmentation`` use MediaPipe's
bundled models on the CPU; their result's ``info["person_detected"]`` is ``False`` (and the
image all black) when no person is found. Modules load lazily: importing this package
pulls in neither torch nor mediapipe.

Example::

    from PIL import Image
    from gpu_worker.engine.preprocessors import preprocess

    photo = Image.open("photo.jpg")
    edges = preprocess("canny", photo, width=1024, height=1024, low_threshold=80)
    depth = preprocess("depth", photo, width=1024, height=768,
                       model="/models/depth-anything-v2-small", device="cuda")
    skeleton = preprocess("pose", photo, width=832, height=1216, fit="contain")
    if not skeleton.info["person_detected"]:
        ...  # no person in the photo: the control image is black
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from PIL import Image

from gpu_worker.engine.preprocessors.errors import (
    PreprocessorModelUnavailable,
    UnknownPreprocessor,
)
from gpu_worker.engine.preprocessors.sizing import Fit, fit_image

__all__ = [
    "KINDS",
    "PreprocessorModelUnavailable",
    "UnknownPreprocessor",
    "preprocess",
    "preprocessor_for",
]

# kind -> (module in this package, function). Resolved on first use, so a worker that only
# ever runs Canny never imports torch, transformers or mediapipe for it.
_REGISTRY: dict[str, tuple[str, str]] = {
    "canny": ("edges", "canny"),
    "scribble": ("edges", "scribble"),
    "depth": ("depth", "depth_map"),
    "normal": ("depth", "normal_map"),
    "segmentation": ("mediapipe_models", "segmentation"),
    "pose": ("mediapipe_models", "pose"),
}
KINDS: tuple[str, ...] = tuple(_REGISTRY)

Preprocessor = Callable[..., Image.Image]


def preprocessor_for(kind: str) -> Preprocessor:
    """The function behind ``kind``: ``(image, **options) -> image of the same size``."""
    if kind not in _REGISTRY:
        raise UnknownPreprocessor(
            f"unknown preprocessor kind {kind!r}; valid kinds: {', '.join(KINDS)}"
        )
    module_name, function_name = _REGISTRY[kind]
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, function_name)


def preprocess(
    kind: str,
    image: Image.Image,
    *,
    width: int,
    height: int,
    fit: Fit = "cover",
    **opts: Any,
) -> Image.Image:
    """Control image of ``kind`` for ``image``: RGB, exactly ``(width, height)``."""
    function = preprocessor_for(kind)  # first, so a bad kind fails before any image work
    result = function(fit_image(image, width, height, fit), **opts)
    if result.size != (width, height) or result.mode != "RGB":
        raise AssertionError(
            f"{kind} returned {result.mode} {result.size}, not RGB {width}x{height}"
        )
    return result
