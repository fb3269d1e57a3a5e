"""Print geometry of a book's pages: the trim size plus bleed in points and in pixels at the
book's dpi, and how much an image must be enlarged to fill it at that dpi."""

from __future__ import annotations

import math
from dataclasses import dataclass

POINTS_PER_INCH = 72
UPSCALE_FACTORS = (2, 4)  # what the upscale job offers


@dataclass(frozen=True)
class PageGeometry:
    trim_w_in: float
    trim_h_in: float
    bleed_in: float
    dpi: int

    @classmethod
    def of(cls, book) -> PageGeometry:
        return cls(book.page_width_in, book.page_height_in, book.bleed_in, book.dpi)

    @property
    def media_w_in(self) -> float:
        return self.trim_w_in + 2 * self.bleed_in

    @property
    def media_h_in(self) -> float:
        return self.trim_h_in + 2 * self.bleed_in

    def points(self, inches: float) -> float:
        return inches * POINTS_PER_INCH

    @property
    def image_px(self) -> tuple[int, int]:
        """The pixels an image needs to fill the page with its bleed at ``dpi``."""
        return math.ceil(self.media_w_in * self.dpi), math.ceil(self.media_h_in * self.dpi)

    def enlargement(self, width: int, height: int) -> float:
        """How many times an image of ``width`` x ``height`` must grow to cover the page with
        its bleed at ``dpi`` (cropped to the page's shape); 1.0 or less: it is enough."""
        need_w, need_h = self.image_px
        return max(need_w / width, need_h / height)


def upscale_factor(enlargement: float) -> int | None:
    """The upscale job's smallest factor that reaches ``enlargement`` (the largest when none
    does); None when the image is large enough."""
    if enlargement <= 1.0:
        return None
    return next((f for f in UPSCALE_FACTORS if f >= enlargement), UPSCALE_FACTORS[-1])
