"""Face repair around the identity check: find faces with an identity backend, repair them
with the engine's face_repair mode, score again, up to N passes (no Django here)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PIL import Image

from .identity import FaceEmbedder
from .spec import Box, GenerationSpec, StepCallback

# Face repair repaints only the face, at a moderate strength: the pose and framing stay.
DEFAULT_REPAIR_STRENGTH = 0.5


def detect_face_boxes(embedder: FaceEmbedder, image: Image.Image) -> tuple[Box, ...]:
    """Integer boxes (x0, y0, x1, y1) of every face the backend finds, best first."""
    width, height = image.size
    boxes = []
    for face in embedder.detect(image):
        x0, y0, x1, y1 = face.bbox
        box = (max(0, int(x0)), max(0, int(y0)), min(width, int(x1)), min(height, int(y1)))
        if box[2] - box[0] >= 4 and box[3] - box[1] >= 4:
            boxes.append(box)
    return tuple(boxes)


def face_repair_spec(spec: GenerationSpec, image: Image.Image, boxes, seed: int, **changes):
    """The spec that repairs ``image``'s faces with the job's prompt, LoRAs and references."""
    return replace(
        spec,
        mode="face_repair",
        source=image,
        mask=None,
        width=image.width,
        height=image.height,
        seeds=(seed,),
        face_boxes=tuple(boxes),
        controls=(),
        **changes,
    )


def repair_until_accepted(
    engine,
    spec: GenerationSpec,
    image: Image.Image,
    seed: int,
    *,
    embedder: FaceEmbedder,
    score: Callable[[Image.Image], float | None],
    threshold: float,
    max_passes: int,
    strength: float = DEFAULT_REPAIR_STRENGTH,
    on_step: StepCallback | None = None,
) -> tuple[Image.Image, float | None, list[dict]]:
    """Repair a rejected image's faces, one new seed per pass, until a pass scores at least
    ``threshold`` or ``max_passes`` were made. Every pass starts from the original: a failed
    repair may have lost the face, and the detector must still find it. Returns the image to
    keep (the accepted pass's, else the original), the accepted score (else None) and one
    record per pass."""
    boxes = detect_face_boxes(embedder, image)
    if not boxes:
        # Nothing to repair: a re-roll is the only way forward.
        return image, None, [{"pass": 1, "faces": 0, "score": None, "accepted": False}]
    passes: list[dict] = []
    for number in range(1, max_passes + 1):
        repair = face_repair_spec(spec, image, boxes, seed + number, strength=strength)
        repaired = engine.generate(repair, on_step=on_step).images[0].image
        value = score(repaired)
        accepted = value is not None and value >= threshold
        passes.append({"pass": number, "faces": len(boxes), "score": value, "accepted": accepted})
        if accepted:
            return repaired, value, passes
    return image, None, passes
