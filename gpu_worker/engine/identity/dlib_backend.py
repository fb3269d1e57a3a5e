"""dlib face identity: HOG detector, 5-point landmarks, face recognition ResNet (CPU).

Weights come from the ``face_recognition_models`` package (dlib's 5-point predictor and
ResNet model, released by Davis King as CC0). The 68-point predictor in that package is
never used: it is trained on iBUG 300-W, which forbids commercial use.

Calibration of :meth:`DlibFaceEmbedder.similarity`: dlib documents that raw descriptors of
the same person lie closer than 0.6 in Euclidean distance. Raw descriptors have a length of
about 1.45 (measured 1.25-1.6), while this package keeps unit vectors, so the unit-vector
distance ``d`` is scaled back by that typical length and passed through a logistic::

    score = 1 / (1 + exp((d * 1.45 - 0.6) / 0.1))

A raw distance of 0.6 maps to 0.5, 0.4 to 0.88, 0.8 to 0.12; identical faces score 0.998.
Measured on real photos: the same face mirrored, brightened or rescaled scores above 0.9,
other people 0.13-0.35.
"""

from __future__ import annotations

import importlib.util
import math
import threading
from pathlib import Path

import numpy as np
from PIL import Image

from .base import (
    DetectedFace,
    FaceEmbedder,
    IdentityModelUnavailable,
    check_same_shape,
    faces_best_first,
    to_rgb_array,
    unit_vector,
)

SHAPE_PREDICTOR_FILE = "shape_predictor_5_face_landmarks.dat"
RECOGNITION_MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"

TYPICAL_DESCRIPTOR_LENGTH = 1.45
SAME_PERSON_DISTANCE = 0.6
LOGISTIC_SCALE = 0.1


def default_model_dir() -> Path | None:
    """The ``models`` folder of the installed face_recognition_models package.

    Found without importing the package: its ``__init__`` imports pkg_resources, which
    recent setuptools no longer ships.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def dlib_similarity(a: np.ndarray, b: np.ndarray) -> float:
    check_same_shape(a, b)
    unit_distance = float(np.linalg.norm(unit_vector(a) - unit_vector(b)))
    raw_distance = unit_distance * TYPICAL_DESCRIPTOR_LENGTH
    return 1.0 / (1.0 + math.exp((raw_distance - SAME_PERSON_DISTANCE) / LOGISTIC_SCALE))


class DlibFaceEmbedder(FaceEmbedder):
    """dlib backend; ``min_detection_score`` and ``min_short_side`` tune the HOG detector.

    HOG's default threshold (0.0) lets through face-like textures (the mission patch on
    skimage's astronaut scores 0.06-0.49 while real faces score above 0.6), hence 0.5.
    HOG finds faces of about 80 px and up, so images whose short side is below
    ``min_short_side`` are upsampled (at most twice) before detection.
    """

    name = "dlib"
    match_threshold = 0.5

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        min_detection_score: float = 0.5,
        min_short_side: int = 400,
    ) -> None:
        try:
            import dlib
        except ImportError as exc:
            raise IdentityModelUnavailable(
                "the dlib identity backend needs the dlib-bin package"
            ) from exc
        folder = Path(model_dir) if model_dir else default_model_dir()
        missing = [
            name
            for name in (SHAPE_PREDICTOR_FILE, RECOGNITION_MODEL_FILE)
            if folder is None or not (folder / name).is_file()
        ]
        if missing:
            raise IdentityModelUnavailable(
                f"dlib face models not found ({', '.join(missing)} in {folder}): install the "
                "face_recognition_models package or pass model_dir"
            )
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._landmarks = dlib.shape_predictor(str(folder / SHAPE_PREDICTOR_FILE))
        self._recognizer = dlib.face_recognition_model_v1(str(folder / RECOGNITION_MODEL_FILE))
        self.min_detection_score = min_detection_score
        self.min_short_side = min_short_side
        # One embedder per process serves several threads (web requests; a worker's denoising
        # thread and its storage stage): dlib's models are not documented as thread-safe.
        self._lock = threading.Lock()

    def _upsample_times(self, pixels: np.ndarray) -> int:
        short_side = min(pixels.shape[:2])
        times = 0
        while times < 2 and short_side * 2**times < self.min_short_side:
            times += 1
        return times

    def detect(self, image: Image.Image) -> list[DetectedFace]:
        pixels = to_rgb_array(image)
        with self._lock:
            boxes, scores, _ = self._detector.run(
                pixels, self._upsample_times(pixels), self.min_detection_score
            )
            if not boxes:
                return []
            shapes = self._dlib.full_object_detections()
            for box in boxes:
                shapes.append(self._landmarks(pixels, box))
            # One batched call embeds every face of the image.
            descriptors = self._recognizer.compute_face_descriptor(pixels, shapes)
        return faces_best_first(
            ((box.left(), box.top(), box.right(), box.bottom()), score, np.array(descriptor))
            for box, score, descriptor in zip(boxes, scores, descriptors, strict=True)
        )

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        return dlib_similarity(a, b)
