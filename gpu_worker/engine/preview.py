"""Cheap previews of a running denoise: a fixed linear projection of the SDXL latents to RGB
(the "approximate" previews other tools show), no VAE. A 1024 px job gives a 128 px preview
from a (4, 128, 128) matrix product: microseconds next to a UNet step."""

from __future__ import annotations

from collections.abc import Callable

import torch
from PIL import Image

# SDXL latent channels -> RGB, fitted to the SDXL VAE (as in ComfyUI's latent formats).
SDXL_LATENT_RGB_FACTORS = (
    (0.3651, 0.4232, 0.4341),
    (-0.2533, -0.0042, 0.1068),
    (0.1076, 0.1111, -0.0362),
    (-0.3165, -0.2492, -0.2188),
)
SDXL_LATENT_RGB_BIAS = (0.1084, -0.0175, -0.0011)
PREVIEW_MAX_SIDE = 128

# Called every few steps with (step, total, preview image) for one job's first image.
PreviewCallback = Callable[[int, int, Image.Image], None]


def latent_preview(latents: torch.Tensor, max_side: int = PREVIEW_MAX_SIDE) -> Image.Image:
    """One image's latents (4, h, w) -> a small RGB preview."""
    factors = torch.tensor(SDXL_LATENT_RGB_FACTORS, dtype=torch.float32)
    bias = torch.tensor(SDXL_LATENT_RGB_BIAS, dtype=torch.float32)
    rgb = latents.detach().float().cpu().permute(1, 2, 0) @ factors + bias
    pixels = ((rgb + 1.0) * 127.5).clamp(0, 255).to(torch.uint8).numpy()
    image = Image.fromarray(pixels, mode="RGB")
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side))
    return image
