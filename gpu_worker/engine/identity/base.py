"""The face-identity interface shared by every backend: errors, results, the embedder ABC."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps

# The Django setting (and environment variable) naming the insightface model pack directory.
INSIGHTFACE_MODEL_DIR_SETTING = "ILLU_INSIGHTFACE_MODEL_DIR"


class IdentityError(Exception):
    """Base class of the identity errors."""


class IdentityModelUnavailable(IdentityError):
    """A backend's library or weights are missing; the message says what to install or set."""


class FaceCountError(IdentityError):
    """An image that must show exactly one face shows none or several."""

    def __init__(self, count: int) -> None:
        self.count = count
        message = "no face found" if count == 0 else f"{count} faces found"
        super().__init__(f"{message}; expected exactly one face")


# eq=False: comparing numpy embeddings field by field has no single truth value.
@dataclass(frozen=True, eq=False)
class DetectedFace:
    """One face: its box (x0, y0, x1, y1) in image pixels, detector score, unit embedding."""

    bbox: tuple[float, float, float, float]
    det_score: float
    embedding: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class ScoreResult:
    """How well an image matches a reference: best face's similarity (None: no face)."""

    score: float | None
    faces: int


class FaceEmbedder(ABC):
    """Detects faces and embeds them; similarity is calibrated to 0..1 per backend.

    ``match_threshold`` is the similarity above which two faces are taken to be the same
    person on this backend's scale.
    """

    name: str
    match_threshold: float

    @abstractmethod
    def detect(self, image: Image.Image) -> list[DetectedFace]:
        """All faces in the image, best detection first."""

    @abstractmethod
    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        """Similarity of two embeddings in 0..1 (1: identical)."""


def faces_best_first(
    detections: Iterable[tuple[Sequence[float], float, np.ndarray]],
) -> list[DetectedFace]:
    """A backend's detections, each (box x0, y0, x1, y1; detector score; raw embedding), as
    DetectedFace (plain floats, unit embedding), the best detection first."""
    faces = [
        DetectedFace(
            bbox=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
            det_score=float(score),
            embedding=unit_vector(embedding),
        )
        for box, score, embedding in detections
    ]
    return sorted(faces, key=lambda face: face.det_score, reverse=True)


def unit_vector(vector: np.ndarray) -> np.ndarray:
    """The vector scaled to length 1, as float32 (the form every embedding is kept in)."""
    flat = np.asarray(vector, dtype=np.float64).ravel()
    norm = float(np.linalg.norm(flat))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError("cannot normalize a zero or non-finite embedding")
    return (flat / norm).astype(np.float32)


def check_same_shape(a: np.ndarray, b: np.ndarray) -> None:
    if np.shape(a) != np.shape(b):
        raise ValueError(f"embedding shapes differ: {np.shape(a)} vs {np.shape(b)}")


def to_rgb_array(image: Image.Image) -> np.ndarray:
    """HxWx3 uint8 RGB, upright: phone photos carry their rotation in EXIF only."""
    upright = ImageOps.exif_transpose(image)
    return np.ascontiguousarray(np.asarray(upright.convert("RGB"), dtype=np.uint8))
