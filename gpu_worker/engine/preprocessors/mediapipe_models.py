"""Pose and person-segmentation control images from MediaPipe's bundled models.

Uses the legacy ``mediapipe.solutions`` API of the ``mediapipe==0.10.21`` wheel, whose
tflite models ship inside the wheel (Apache-2.0), so nothing is downloaded at run time.
(The newer Tasks API needs separately downloaded ``.task`` files.) CPU only.

Both return images whose ``info["person_detected"]`` says whether a person was found; when
none is, the image is all black. MediaPipe's pose model finds one person per image.
"""

from __future__ import annotations

import threading
from typing import Literal

import numpy as np
from mediapipe.python.solutions import pose as mp_pose
from mediapipe.python.solutions import selfie_segmentation as mp_selfie
from PIL import Image

from gpu_worker.engine.preprocessors.openpose import KEYPOINT_COUNT, Point, draw_skeleton

PERSON_DETECTED = "person_detected"

# ADE20K palette colour of class "person": what segmentation ControlNets were trained on.
ADE20K_PERSON = (150, 5, 61)

# Only the "full" pose landmark model (complexity 1) is inside the wheel; the lite (0) and
# heavy (2) models would be downloaded from the internet on first use.
_BUNDLED_POSE_COMPLEXITY = 1

# OpenPose COCO-18 keypoint -> MediaPipe pose landmark index (person's own left/right in
# both). The neck (OpenPose 1) has no MediaPipe landmark: it is the shoulders' midpoint.
_NECK = 1
_OPENPOSE_FROM_MEDIAPIPE: dict[int, int] = {
    0: 0, 2: 12, 3: 14, 4: 16, 5: 11, 6: 13, 7: 15, 8: 24, 9: 26, 10: 28,
    11: 23, 12: 25, 13: 27, 14: 5, 15: 2, 16: 8, 17: 7,
}  # fmt: skip

# MediaPipe graphs are not safe to call from two threads at once; one lock guards them all.
_lock = threading.Lock()
_pose_graphs: dict[float, mp_pose.Pose] = {}
_segmentation_graphs: dict[int, mp_selfie.SelfieSegmentation] = {}


def _pose_graph(min_detection_confidence: float) -> mp_pose.Pose:
    if min_detection_confidence not in _pose_graphs:
        _pose_graphs[min_detection_confidence] = mp_pose.Pose(
            static_image_mode=True,  # every call is an unrelated photo: no tracking state
            model_complexity=_BUNDLED_POSE_COMPLEXITY,
            min_detection_confidence=min_detection_confidence,
        )
    return _pose_graphs[min_detection_confidence]


def _segmentation_graph(model_selection: int) -> mp_selfie.SelfieSegmentation:
    if model_selection not in _segmentation_graphs:
        _segmentation_graphs[model_selection] = mp_selfie.SelfieSegmentation(
            model_selection=model_selection
        )
    return _segmentation_graphs[model_selection]


def _with_flag(image: Image.Image, found: bool) -> Image.Image:
    image.info[PERSON_DETECTED] = found
    return image


def detect_keypoints(
    image: Image.Image, *, min_visibility: float = 0.5, min_detection_confidence: float = 0.5
) -> list[Point | None] | None:
    """OpenPose-ordered pixel keypoints of the person in ``image``, or ``None`` if none found.

    Keypoints that MediaPipe judges invisible or that fall outside the frame are ``None``.
    """
    rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
    with _lock:
        result = _pose_graph(min_detection_confidence).process(rgb)
    if result.pose_landmarks is None:
        return None
    landmarks = result.pose_landmarks.landmark

    def pixel(index: int) -> Point | None:
        mark = landmarks[index]
        inside = 0.0 <= mark.x <= 1.0 and 0.0 <= mark.y <= 1.0
        if mark.visibility < min_visibility or not inside:
            return None
        return (mark.x * (image.width - 1), mark.y * (image.height - 1))

    keypoints: list[Point | None] = [None] * KEYPOINT_COUNT
    for openpose_index, mediapipe_index in _OPENPOSE_FROM_MEDIAPIPE.items():
        keypoints[openpose_index] = pixel(mediapipe_index)
    right, left = keypoints[2], keypoints[5]
    if right is not None and left is not None:
        keypoints[_NECK] = ((right[0] + left[0]) / 2, (right[1] + left[1]) / 2)
    return keypoints


def pose(
    image: Image.Image, *, min_visibility: float = 0.5, min_detection_confidence: float = 0.5
) -> Image.Image:
    """OpenPose skeleton (coloured limbs and joints) on black; all black if no person."""
    keypoints = detect_keypoints(
        image, min_visibility=min_visibility, min_detection_confidence=min_detection_confidence
    )
    if keypoints is None:
        return _with_flag(Image.new("RGB", image.size), False)
    canvas = draw_skeleton(keypoints, image.width, image.height)
    return _with_flag(Image.fromarray(canvas, mode="RGB"), True)


def person_mask(
    image: Image.Image, *, threshold: float = 0.5, model_selection: int = 0
) -> np.ndarray:
    """Boolean (height, width) mask of people. ``model_selection``: 0 general, 1 landscape."""
    rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
    with _lock:
        probabilities = _segmentation_graph(model_selection).process(rgb).segmentation_mask
    return probabilities > threshold


def segmentation(
    image: Image.Image,
    *,
    threshold: float = 0.5,
    style: Literal["ade20k", "mask"] = "ade20k",
    model_selection: int = 0,
) -> Image.Image:
    """People on black: in the ADE20K "person" colour (default) or white (``style="mask"``)."""
    if style not in ("ade20k", "mask"):
        raise ValueError(f"unknown segmentation style {style!r}; valid styles: ade20k, mask")
    mask = person_mask(image, threshold=threshold, model_selection=model_selection)
    colour = ADE20K_PERSON if style == "ade20k" else (255, 255, 255)
    canvas = np.zeros((image.height, image.width, 3), dtype=np.uint8)
    canvas[mask] = colour
    return _with_flag(Image.fromarray(canvas, mode="RGB"), bool(mask.any()))
