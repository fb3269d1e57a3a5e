"""OpenPose-style skeleton drawing: the 18 COCO body keypoints, coloured limbs on black.

Colours, limb order and proportions follow the ControlNet OpenPose annotator, because
OpenPose ControlNets were trained on exactly those drawings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

Point = tuple[float, float]

# OpenPose COCO-18 order: 0 nose, 1 neck, 2-4 right arm, 5-7 left arm, 8-10 right leg,
# 11-13 left leg, 14/15 right/left eye, 16/17 right/left ear.
KEYPOINT_COUNT = 18

# Pairs of keypoint indices; the i-th limb is drawn in COLORS[i].
LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)  # fmt: skip

# RGB, one per keypoint (and per limb, by index).
COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)  # fmt: skip

# Limbs are drawn darker than joints (annotator v1.1), so joints stand out where they meet.
_LIMB_SHADE = 0.6
_REFERENCE_SIDE = 512  # stick width 4 px and joint radius 4 px at 512 px, scaled with size


def draw_skeleton(keypoints: Sequence[Point | None], width: int, height: int) -> np.ndarray:
    """Draw one body (18 pixel positions, ``None`` where unseen) as a uint8 RGB array."""
    if len(keypoints) != KEYPOINT_COUNT:
        raise ValueError(f"expected {KEYPOINT_COUNT} keypoints, got {len(keypoints)}")
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    size = max(1, round(4 * min(width, height) / _REFERENCE_SIDE))

    for (start, end), color in zip(LIMBS, COLORS, strict=False):
        a, b = keypoints[start], keypoints[end]
        if a is None or b is None:
            continue
        centre = (round((a[0] + b[0]) / 2), round((a[1] + b[1]) / 2))
        half_length = round(math.hypot(a[0] - b[0], a[1] - b[1]) / 2)
        angle = round(math.degrees(math.atan2(a[1] - b[1], a[0] - b[0])))
        polygon = cv2.ellipse2Poly(centre, (half_length, size), angle, 0, 360, 1)
        shade = tuple(int(channel * _LIMB_SHADE) for channel in color)
        cv2.fillConvexPoly(canvas, polygon, shade)

    for point, color in zip(keypoints, COLORS, strict=True):
        if point is not None:
            cv2.circle(canvas, (round(point[0]), round(point[1])), size, color, thickness=-1)
    return canvas
