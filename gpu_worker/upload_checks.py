"""The engine's checks that uploads go through on the web side. The layers below may not
import the engine; the settings hand them these instead (``ILLU_FACE_DETECTION`` for avatars
and character references, ``ILLU_WEIGHTS_CHECK`` for LoRA files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from catalog.services import UnsafeWeightsFile
from core.faces import FaceInfo

from .engine.errors import UnsafeWeights
from .engine.identity import reference_embedding
from .engine.weights import read_safetensors_header
from .scoring import face_embedder


class EngineFaceDetection:
    """Faces found by the configured identity backend (ILLU_IDENTITY_BACKEND)."""

    def detect(self, image: Image.Image) -> FaceInfo:
        embedder = face_embedder()
        faces = embedder.detect(image)
        best = faces[0] if faces else None
        return FaceInfo(
            count=len(faces),
            score=float(best.det_score) if best else None,
            embedding=[float(x) for x in best.embedding] if len(faces) == 1 else None,
            backend=embedder.name,
        )

    def reference_embedding(self, embeddings: list[list[float]]) -> list[float]:
        vectors = (np.asarray(embedding, dtype=np.float32) for embedding in embeddings)
        return [float(x) for x in reference_embedding(vectors)]


FACE_DETECTION = EngineFaceDetection()


def check_lora_file(path: Path) -> None:
    """The engine's safetensors header check (dtype, shape and offsets must agree)."""
    try:
        read_safetensors_header(path)
    except UnsafeWeights as exc:
        raise UnsafeWeightsFile(str(exc)) from exc
