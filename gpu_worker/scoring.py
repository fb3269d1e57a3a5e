"""Identity scoring of generated images against the job's person: the avatar's face for
memory/subject jobs, the character's reference embedding for character jobs; and against the
further characters a job names in ``score_characters`` (a book page with several)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.conf import settings
from PIL import Image

from generation.models import GenerationJob

from .engine.identity import FaceEmbedder, load_face_embedder, score_image


def face_embedder() -> FaceEmbedder:
    return load_face_embedder(
        settings.ILLU_IDENTITY_BACKEND, model_dir=settings.ILLU_INSIGHTFACE_MODEL_DIR or None
    )


@dataclass
class IdentityScorer:
    embedder: FaceEmbedder
    reference: np.ndarray
    threshold: float

    def score(self, image: Image.Image) -> float | None:
        return score_image(self.embedder, image, self.reference).score

    def manifest(self, score: float | None) -> dict:
        return {"backend": self.embedder.name, "score": score, "threshold": self.threshold}


def _reference_for(job: GenerationJob) -> list[float] | None:
    if job.params.get("avatar"):
        from accounts.models import Avatar

        avatar = Avatar.objects.filter(pk=job.params["avatar"]).first()
        return avatar.face_embedding if avatar else None
    if job.params.get("character"):
        from characters.models import Character

        character = Character.objects.filter(pk=job.params["character"]).first()
        return character.reference_embedding if character else None
    return None


def scorer_for_job(job: GenerationJob) -> IdentityScorer | None:
    """None when the job has no identity to keep (text/control jobs, no face on file)."""
    reference = _reference_for(job)
    if not reference:
        return None
    consistency = job.params.get("consistency") or {}
    threshold = consistency.get("threshold", job.params.get("consistency_threshold"))
    return IdentityScorer(
        embedder=face_embedder(),
        reference=np.asarray(reference, dtype=np.float32),
        threshold=settings.ILLU_CONSISTENCY_THRESHOLD if threshold is None else threshold,
    )


def extra_character_scorers(job: GenerationJob) -> dict[str, IdentityScorer]:
    """``{character id: scorer}`` of the job's ``score_characters`` that have a reference
    embedding (one without is left out: its score stays null)."""
    ids = job.params.get("score_characters") or []
    if not ids:
        return {}
    from characters.models import Character

    embedder = face_embedder()
    return {
        str(character.pk): IdentityScorer(
            embedder=embedder,
            reference=np.asarray(character.reference_embedding, dtype=np.float32),
            threshold=character.consistency_threshold,
        )
        for character in Character.objects.filter(pk__in=ids)
        if character.reference_embedding
    }
