"""Overlapping tiles and their blending, for processing images larger than one model pass.

Each tile is processed on its own (so memory is bounded by the tile, VAE included); where
tiles overlap, their results are averaged with weights that ramp linearly across the overlap,
so a seam between two tiles fades over ``overlap`` pixels instead of showing as an edge.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image

Box = tuple[int, int, int, int]  # (x0, y0, x1, y1)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering ``length`` with tiles of ``tile`` overlapping by >= ``overlap``."""
    if length <= tile:
        return [0]
    count = math.ceil((length - overlap) / (tile - overlap))
    stride = (length - tile) / (count - 1)
    return [round(index * stride) for index in range(count)]


def tile_boxes(width: int, height: int, tile: int, overlap: int) -> list[Box]:
    tile_w, tile_h = min(tile, width), min(tile, height)
    return [
        (x, y, x + tile_w, y + tile_h)
        for y in tile_starts(height, tile_h, overlap)
        for x in tile_starts(width, tile_w, overlap)
    ]


def _ramp(length: int, overlap: int, fade_start: bool, fade_end: bool) -> np.ndarray:
    weights = np.ones(length, dtype=np.float32)
    if overlap <= 0:
        return weights
    # Never 0: every pixel keeps a positive total weight even where only one tile covers it.
    ramp = np.arange(1, overlap + 1, dtype=np.float32) / (overlap + 1)
    if fade_start:
        weights[:overlap] = np.minimum(weights[:overlap], ramp)
    if fade_end:
        weights[length - overlap :] = np.minimum(weights[length - overlap :], ramp[::-1])
    return weights


def tile_weights(box: Box, width: int, height: int, overlap: int) -> np.ndarray:
    """H x W x 1 weights of one tile: ramps only on sides that border another tile."""
    x0, y0, x1, y1 = box
    across = _ramp(x1 - x0, overlap, x0 > 0, x1 < width)
    down = _ramp(y1 - y0, overlap, y0 > 0, y1 < height)
    return (down[:, None] * across[None, :])[..., None]


def process_in_tiles(
    image: Image.Image,
    process: Callable[[int, Image.Image], Image.Image],
    *,
    tile: int,
    overlap: int,
) -> Image.Image:
    """Run ``process(index, tile_image)`` on each overlapping tile and blend the results."""
    width, height = image.size
    total = np.zeros((height, width, 3), dtype=np.float32)
    weight_sum = np.zeros((height, width, 1), dtype=np.float32)
    for index, box in enumerate(tile_boxes(width, height, tile, overlap)):
        result = process(index, image.crop(box)).convert("RGB")
        x0, y0, x1, y1 = box
        weights = tile_weights(box, width, height, overlap)
        total[y0:y1, x0:x1] += np.asarray(result, dtype=np.float32) * weights
        weight_sum[y0:y1, x0:x1] += weights
        del result
    blended = np.clip(np.rint(total / weight_sum), 0, 255).astype(np.uint8)
    return Image.fromarray(blended, mode="RGB")
