"""Variants of the tiny SDXL for residency tests and the fleet benchmark: the same text
encoders, VAE and tokenizers (byte-identical files, so their parts are shared when resident),
and a UNet re-drawn from another seed (so their images differ); and a VAE with its decoder
nudged, a model's own VAE for tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch


def build_tiny_variant(base: Path, target: Path, seed: int) -> Path:
    """A copy of the tiny SDXL at ``base`` in ``target`` whose UNet weights come from
    ``seed``; built once (an existing ``target`` is returned as it is)."""
    from diffusers import UNet2DConditionModel

    target = Path(target)
    if (target / "model_index.json").exists():
        return target
    building = target.with_name(target.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    shutil.copytree(base, building)
    unet = UNet2DConditionModel.from_pretrained(building / "unet")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in unet.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.05)
    shutil.rmtree(building / "unet")
    unet.save_pretrained(building / "unet", safe_serialization=True)
    building.rename(target)
    return target


def build_tiny_vae(base: Path, target: Path, seed: int) -> Path:
    """The tiny SDXL's VAE with its decoder's weights nudged by noise from ``seed``: a
    model's own VAE for tests (its images differ from the base VAE's); built once."""
    from diffusers import AutoencoderKL

    target = Path(target)
    if (target / "config.json").exists():
        return target
    vae = AutoencoderKL.from_pretrained(Path(base) / "vae")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in vae.decoder.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.05)
    building = target.with_name(target.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    vae.save_pretrained(building, safe_serialization=True)
    building.rename(target)
    return target
