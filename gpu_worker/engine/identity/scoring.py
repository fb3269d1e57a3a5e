"""Backend-independent uses of an embedder: references, image scores, single-face checks."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PIL import Image

from .base import DetectedFace, FaceCountError, FaceEmbedder, ScoreResult, unit_vector


def reference_embedding(embeddings: Iterable[np.ndarray]) -> np.ndarray:
    """One identity from several photos: the normalized mean of their unit embeddings."""
    units = [unit_vector(embedding) for embedding in embeddings]
    if not units:
        raise ValueError("a reference needs at least one embedding")
    if len({unit.shape for unit in units}) > 1:
        raise ValueError("reference embeddings come from different models (shapes differ)")
    return unit_vector(np.mean(np.stack(units), axis=0))


def score_image(embedder: FaceEmbedder, image: Image.Image, reference: np.ndarray) -> ScoreResult:
    """The best face's similarity to the reference, with the number of faces seen."""
    faces = embedder.detect(image)
    if not faces:
        return ScoreResult(score=None, faces=0)
    best = max(embedder.similarity(face.embedding, reference) for face in faces)
    return ScoreResult(score=best, faces=len(faces))


def require_single_face(embedder: FaceEmbedder, image: Image.Image) -> DetectedFace:
    """The image's only face; FaceCountError when it has none or several (reference photos)."""
    faces = embedder.detect(image)
    if len(faces) != 1:
        raise FaceCountError(len(faces))
    return faces[0]
