"""Inpainting masks as plain images: L mode, 255 where the image may change, 0 where it must
stay. Padding grows the region (so the model sees context at its edge), blur softens it, and
the final composite takes every pixel outside the softened mask from the source unchanged."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def rect_mask(size: tuple[int, int], rect: tuple[int, int, int, int]) -> Image.Image:
    """A mask of ``size`` with the rectangle (x, y, w, h) set."""
    x, y, w, h = rect
    mask = Image.new("L", size, 0)
    if w > 0 and h > 0:
        ImageDraw.Draw(mask).rectangle((x, y, x + w - 1, y + h - 1), fill=255)
    return mask


def polygon_mask(size: tuple[int, int], points: list[tuple[float, float]]) -> Image.Image:
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).polygon([tuple(p) for p in points], fill=255)
    return mask


def as_mask(image: Image.Image) -> Image.Image:
    """Any uploaded mask as L: transparent pixels of an RGBA brush layer count as unmasked."""
    if image.mode in ("RGBA", "LA"):
        alpha = image.getchannel("A")
        grey = image.convert("L")
        return Image.fromarray(np.minimum(np.asarray(alpha), np.asarray(grey)))
    return image.convert("L")


def prepare_mask(mask: Image.Image, *, padding: int, blur: int) -> Image.Image:
    """Grow the mask by ``padding`` px, then soften its edge over ``blur`` more px (outward
    only, so the whole requested region is repainted at full strength). Pixels farther than
    ``padding + blur`` from the mask stay 0."""
    import cv2  # here, not at import: the engine imports on hosts without OpenCV

    array = np.asarray(as_mask(mask))
    if padding > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * padding + 1, 2 * padding + 1))
        array = cv2.dilate(array, kernel)
    if blur > 0:
        grown = cv2.dilate(
            array, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * blur + 1, 2 * blur + 1))
        )
        softened = np.asarray(Image.fromarray(grown).filter(ImageFilter.GaussianBlur(blur / 2)))
        # Cut the Gaussian's tail at the grown edge: the mask reaches exactly padding + blur.
        array = np.maximum(array, np.where(grown > 0, softened, 0))
    return Image.fromarray(array.astype(np.uint8), mode="L")


def composite(source: Image.Image, painted: Image.Image, mask: Image.Image) -> Image.Image:
    """``painted`` where the mask is set, ``source`` where it is 0, blended in between."""
    if painted.size != source.size:
        painted = painted.resize(source.size, Image.Resampling.LANCZOS)
    return Image.composite(painted.convert("RGB"), source.convert("RGB"), mask)


def ellipse_mask(size: tuple[int, int], box: tuple[float, float, float, float]) -> Image.Image:
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).ellipse(box, fill=255)
    return mask
