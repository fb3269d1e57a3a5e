"""Classical edge control images: Canny edges and thick scribble strokes (cv2 + numpy)."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

# Edge sizes below are tuned at 512 px (the short side) and scaled with the image.
_REFERENCE_SIDE = 512


def _binary_rgb(mask: np.ndarray) -> Image.Image:
    """0/255 single-channel mask -> RGB image (ControlNets take three equal channels)."""
    binary = np.where(mask > 0, 255, 0).astype(np.uint8)
    return Image.fromarray(np.stack([binary] * 3, axis=-1), mode="RGB")


def canny(
    image: Image.Image, *, low_threshold: int = 100, high_threshold: int = 200
) -> Image.Image:
    """White 1-px Canny edges on black; pixel values are exactly 0 or 255.

    Runs on the RGB array (as the ControlNet canny annotator does), so edges between
    colours of equal brightness are kept.
    """
    edges = cv2.Canny(np.asarray(image.convert("RGB")), low_threshold, high_threshold)
    return _binary_rgb(edges)


def _drop_short_edges(edges: np.ndarray, min_pixels: int) -> np.ndarray:
    """Remove edge fragments smaller than ``min_pixels``: texture specks, not outlines."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(edges, connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_pixels
    keep[0] = False  # label 0 is the background
    return np.where(keep[labels], 255, 0).astype(np.uint8)


def scribble(
    image: Image.Image,
    *,
    low_threshold: int = 50,
    high_threshold: int = 120,
    thickness: int | None = None,
    min_edge_pixels: int | None = None,
) -> Image.Image:
    """Thick binary strokes (0/255, no soft edges) following the main outlines.

    A classical stand-in for HED scribbles: blur away fine texture, take Canny edges of
    what is left, drop short fragments, then dilate to a hand-drawn stroke width.
    ``thickness`` defaults to about 5 px per 512 px of the short side.
    """
    rgb = np.asarray(image.convert("RGB"))
    scale = min(rgb.shape[:2]) / _REFERENCE_SIDE
    thickness = thickness or max(3, round(5 * scale))
    min_edge_pixels = min_edge_pixels or max(4, round(12 * scale))

    blurred = cv2.GaussianBlur(rgb, (0, 0), sigmaX=max(1.0, 2.0 * scale))
    edges = cv2.Canny(blurred, low_threshold, high_threshold)
    edges = _drop_short_edges(edges, min_edge_pixels)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (thickness, thickness))
    return _binary_rgb(cv2.dilate(edges, kernel))
