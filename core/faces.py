"""Faces on the Django side: detected on avatar and reference uploads, and averaged into a
character's reference embedding.

The detector is the engine's identity backend, which this bottom layer may not import: the
setting ``ILLU_FACE_DETECTION`` names an object (``gpu_worker.upload_checks.FACE_DETECTION``)
with ``detect(image) -> FaceInfo`` and ``reference_embedding(embeddings) -> list[float]``,
loaded by ``import_string``. Tests and other deployments may name another."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string
from PIL import Image

from core.errors import DomainError


class FaceRequirementError(DomainError):
    """An image that must show exactly one face shows none or several."""


@dataclass(frozen=True)
class FaceInfo:
    count: int
    score: float | None
    embedding: list[float] | None
    backend: str

    @property
    def single(self) -> bool:
        return self.count == 1


class FaceDetection(Protocol):
    def detect(self, image: Image.Image) -> FaceInfo:
        """How many faces, the best one's detector score, its embedding when it is the only
        one, and the backend's name."""

    def reference_embedding(self, embeddings: list[list[float]]) -> list[float]:
        """The normalized mean of several faces' embeddings."""


def face_detection() -> FaceDetection:
    return import_string(settings.ILLU_FACE_DETECTION)


def detect_face(image: Image.Image) -> FaceInfo:
    return face_detection().detect(image)


def reference_embedding(embeddings: list[list[float]]) -> list[float]:
    return face_detection().reference_embedding(embeddings)


def require_single_face(info: FaceInfo, field: str = "image") -> None:
    if info.single:
        return
    found = "no face was found" if info.count == 0 else f"{info.count} faces were found"
    raise FaceRequirementError(
        f"{field}: exactly one face is needed, but {found}.",
        {field: [f"Exactly one face is needed; {found}."]},
    )
