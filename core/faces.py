"""Faces on the Django side: detected on avatar and reference uploads, embedded with the
configured backend, and averaged into a character's reference embedding."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from PIL import Image

from core.errors import DomainError
from gpu_worker.engine.identity import load_face_embedder, reference_embedding


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


def detect_face(image: Image.Image) -> FaceInfo:
    embedder = load_face_embedder(
        settings.ILLU_IDENTITY_BACKEND, model_dir=settings.ILLU_INSIGHTFACE_MODEL_DIR or None
    )
    faces = embedder.detect(image)
    best = faces[0] if faces else None
    return FaceInfo(
        count=len(faces),
        score=float(best.det_score) if best else None,
        embedding=[float(x) for x in best.embedding] if len(faces) == 1 else None,
        backend=embedder.name,
    )


def require_single_face(info: FaceInfo, field: str = "image") -> None:
    if info.single:
        return
    found = "no face was found" if info.count == 0 else f"{info.count} faces were found"
    raise FaceRequirementError(
        f"{field}: exactly one face is needed, but {found}.",
        {field: [f"Exactly one face is needed; {found}."]},
    )


def character_refresh_embedding(character) -> None:
    """Normalized mean of the references with exactly one face; flagged ones are left out."""
    embeddings = [
        ref.face_embedding
        for ref in character.references.all()
        if ref.face_count == 1 and ref.face_embedding
    ]
    import numpy as np

    character.reference_embedding = (
        [float(x) for x in reference_embedding(np.asarray(e, dtype=np.float32) for e in embeddings)]
        if embeddings
        else None
    )
    character.embedding_backend = settings.ILLU_IDENTITY_BACKEND if embeddings else ""
    character.save(update_fields=["reference_embedding", "embedding_backend", "updated_at"])
