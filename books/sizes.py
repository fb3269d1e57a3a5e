"""The SDXL size bucket a page is drawn at: the trained resolution (about one megapixel)
whose aspect ratio is nearest the page's trim size."""

from __future__ import annotations

import math

# SDXL's training buckets (width, height), all about 1024^2 pixels.
SDXL_BUCKETS = (
    (1024, 1024),
    (1152, 896),
    (896, 1152),
    (1216, 832),
    (832, 1216),
    (1344, 768),
    (768, 1344),
    (1536, 640),
    (640, 1536),
)
MIN_SIDE = 256


def nearest_bucket(width_in: float, height_in: float, scale: float = 1.0) -> tuple[int, int]:
    """The bucket nearest ``width_in / height_in`` (by log ratio, so 2:1 and 1:2 are equally
    far from square), times ``scale`` (ILLU_BOOK_IMAGE_SCALE: below 1 for tests and previews),
    each side a multiple of 8 and at least 256."""
    wanted = math.log(width_in / height_in)
    width, height = min(SDXL_BUCKETS, key=lambda size: abs(math.log(size[0] / size[1]) - wanted))
    return _side(width * scale), _side(height * scale)


def _side(value: float) -> int:
    return max(MIN_SIDE, int(round(value / 8)) * 8)
