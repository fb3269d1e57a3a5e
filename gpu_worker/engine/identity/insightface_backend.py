"""insightface face identity: SCRFD detector + ArcFace recognizer on onnxruntime.

The model pack (e.g. ``buffalo_l``) is read from a local directory holding its ``.onnx``
files, named by the ``ILLU_INSIGHTFACE_MODEL_DIR`` setting. It is never downloaded:
insightface fetches a pack whenever its directory is missing, so the directory is checked
before insightface sees it. Licensing: the model packs insightface releases (buffalo_l and
the others) are for non-commercial research only; commercial use needs a licensed pack.

Similarity is the cosine of the two ArcFace embeddings clipped to 0..1 (identical: 1,
unrelated faces: about 0-0.2). ArcFace packs put the same person above a cosine of about
0.3-0.4, hence ``match_threshold = 0.3``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from .base import (
    INSIGHTFACE_MODEL_DIR_SETTING,
    DetectedFace,
    FaceEmbedder,
    IdentityModelUnavailable,
    check_same_shape,
    faces_best_first,
    to_rgb_array,
    unit_vector,
)

# Only these two tasks are needed; a full pack also holds landmark and gender/age models.
NEEDED_TASKS = ("detection", "recognition")
DETECTION_SIZE = (640, 640)


def validated_pack_dir(model_dir: str | Path | None) -> Path:
    """The pack directory, or IdentityModelUnavailable naming the setting to fix."""
    if not model_dir:
        raise IdentityModelUnavailable(
            f"no insightface model pack configured: set {INSIGHTFACE_MODEL_DIR_SETTING} to a "
            "directory holding the pack's .onnx files"
        )
    pack = Path(model_dir).expanduser().resolve()
    if not pack.is_dir():
        raise IdentityModelUnavailable(
            f"insightface model pack directory {pack} does not exist "
            f"(set {INSIGHTFACE_MODEL_DIR_SETTING}); models are never downloaded"
        )
    if not any(pack.glob("*.onnx")):
        raise IdentityModelUnavailable(
            f"insightface model pack directory {pack} holds no .onnx files "
            f"(check {INSIGHTFACE_MODEL_DIR_SETTING})"
        )
    return pack


def default_providers() -> list[str]:
    """CUDA when this onnxruntime build has it, always with the CPU fallback."""
    import onnxruntime

    available = onnxruntime.get_available_providers()
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    check_same_shape(a, b)
    cosine = float(np.dot(unit_vector(a), unit_vector(b)))
    return min(max(cosine, 0.0), 1.0)


class InsightFaceEmbedder(FaceEmbedder):
    name = "insightface"
    match_threshold = 0.3

    def __init__(
        self, model_dir: str | Path | None, providers: Sequence[str] | None = None
    ) -> None:
        pack = validated_pack_dir(model_dir)
        try:
            from insightface.app import FaceAnalysis
        except ImportError as exc:
            raise IdentityModelUnavailable(
                "the insightface identity backend needs the insightface and onnxruntime packages"
            ) from exc
        chosen = list(providers) if providers else default_providers()
        try:
            # An existing absolute directory as `name` is used in place, with no download.
            self._app = FaceAnalysis(
                name=str(pack),
                root=str(pack.parent),
                allowed_modules=list(NEEDED_TASKS),
                providers=chosen,
            )
        except AssertionError:  # insightface asserts that a detector was found
            missing = ["detection"]
        else:
            missing = [task for task in NEEDED_TASKS if task not in self._app.models]
        if missing:
            raise IdentityModelUnavailable(
                f"insightface model pack {pack} lacks a {' and '.join(missing)} model "
                f"(check {INSIGHTFACE_MODEL_DIR_SETTING})"
            )
        # ctx_id < 0 pins insightface's sessions to the CPU provider.
        ctx_id = 0 if "CUDAExecutionProvider" in chosen else -1
        self._app.prepare(ctx_id=ctx_id, det_size=DETECTION_SIZE)
        self.providers = chosen

    def detect(self, image: Image.Image) -> list[DetectedFace]:
        # insightface works on OpenCV's BGR channel order.
        bgr = np.ascontiguousarray(to_rgb_array(image)[:, :, ::-1])
        return faces_best_first(
            (face.bbox, face.det_score, face.embedding)
            for face in self._app.get(bgr)
            if face.embedding is not None
        )

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        return cosine_similarity(a, b)
