"""Bring any input photo to the exact generation size before a preprocessor sees it."""

from __future__ import annotations

from typing import Literal

from PIL import Image, ImageOps

Fit = Literal["cover", "contain"]
FITS: tuple[Fit, ...] = ("cover", "contain")


def to_rgb(image: Image.Image) -> Image.Image:
    """Upright RGB copy: EXIF rotation applied, transparency flattened onto white."""
    # Phone photos store rotation in EXIF; ignoring it gives the model a sideways person.
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def fit_image(image: Image.Image, width: int, height: int, fit: Fit = "cover") -> Image.Image:
    """Resize ``image`` to exactly ``(width, height)`` keeping its aspect ratio.

    ``cover`` (default) scales to fill the frame and centre-crops the overflow, like the
    "crop and resize" mode of ControlNet UIs: no bars, which Canny and pose would read as
    content. ``contain`` scales to fit inside and letterboxes with black bars, keeping
    the whole photo (a black bar is "no edge / far away / no person" for every kind).
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"width and height must be positive, got {width}x{height}")
    if fit not in FITS:
        raise ValueError(f"unknown fit {fit!r}; valid fits: {', '.join(FITS)}")
    image = to_rgb(image)
    size = (width, height)
    if fit == "cover":
        return ImageOps.fit(image, size, method=Image.Resampling.LANCZOS)
    return ImageOps.pad(image, size, method=Image.Resampling.LANCZOS, color=(0, 0, 0))
