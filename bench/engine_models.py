"""Weights for bench/engine.py: the base SDXL (tiny on CPU, full-size random on CUDA) and, built
from its UNet, a ControlNet, an IP-Adapter and LoRAs of matching shapes.

The attachments are built here, generically from whatever base UNet is given, so the CPU run
that the smoke test makes exercises the very code that builds the full-size ones on a GPU.
Random weights: compute and memory are those of real models, the images are noise.
"""

from __future__ import annotations

from pathlib import Path

import torch

from gpu_worker.engine.tiny_attachments import TINY_VISION, build_random_ip_adapter

# IP-Adapter image encoders: SDXL "vit-h" adapters use OpenCLIP ViT-H/14's vision tower.
VIT_H_VISION = {
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "num_hidden_layers": 32,
    "num_attention_heads": 16,
    "projection_dim": 1024,
    "image_size": 224,
    "patch_size": 14,
    "hidden_act": "gelu",
}


def base_model(device: str, models_dir: Path) -> Path:
    """The base pipeline directory, built once under ``models_dir``."""
    if not device.startswith("cuda"):
        from gpu_worker.engine.tiny_models import ensure_tiny_sdxl

        return ensure_tiny_sdxl(models_dir)
    target = models_dir / "sdxl-full-random"
    if not (target / "model_index.json").exists():
        try:
            from gpu_worker.engine.full_size import build_full_size_random
        except ImportError as exc:
            raise RuntimeError(f"full-size builder unavailable: {exc}") from exc
        build_full_size_random(target, device=device)
    return target


def _unet(base: Path):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel.from_pretrained(base / "unet", use_safetensors=True)


def build_controlnet(unet, directory: Path) -> Path:
    """A single-type ControlNet initialised from the UNet's encoder (diffusers' from_unet)."""
    from diffusers import ControlNetModel

    if not (directory / "config.json").exists():
        ControlNetModel.from_unet(unet).save_pretrained(directory, safe_serialization=True)
    return directory


def build_lora(unet, path: Path, *, seed: int, rank: int) -> Path:
    """A UNet LoRA in diffusers/peft naming on every attention projection (what SDXL style
    LoRAs adapt), as ``save_lora_weights`` writes it."""
    from safetensors.torch import save_file

    if path.exists():
        return path
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for name, module in unet.named_modules():
        if isinstance(module, torch.nn.Linear) and ".attn" in name and "_ip" not in name:
            tensors[f"unet.{name}.lora_A.weight"] = (
                torch.randn(rank, module.in_features, generator=generator) / module.in_features**0.5
            )
            tensors[f"unet.{name}.lora_B.weight"] = (
                torch.randn(module.out_features, rank, generator=generator) * 0.01
            )
    save_file(tensors, path)
    return path


def build_ip_adapter(unet, directory: Path, *, vision: dict) -> Path:
    """Plain IP-Adapter weights for ``unet`` (the engine's builder), built once."""
    weights = directory / "ip-adapter_sdxl.safetensors"
    if weights.exists():
        return weights
    return build_random_ip_adapter(
        unet, directory, vision=vision, seed=7, projection_scale=0.02, attention_scale=0.02
    )


def build_attachments(base: Path, models_dir: Path, *, full_size: bool) -> dict[str, object]:
    """Paths of controlnet, ip_adapter, lora_a, lora_b, lora_c; an Exception where one failed."""
    unet = _unet(base)
    built: dict[str, object] = {}
    steps = {
        "controlnet": lambda: build_controlnet(unet, models_dir / "controlnet"),
        "ip_adapter": lambda: build_ip_adapter(
            unet, models_dir / "ip-adapter", vision=VIT_H_VISION if full_size else TINY_VISION
        ),
    }
    rank = 32 if full_size else 4
    for index, name in enumerate(("lora_a", "lora_b", "lora_c")):
        path = models_dir / f"{name}.safetensors"
        steps[name] = lambda p=path, s=index: build_lora(unet, p, seed=s, rank=rank)
    for name, build in steps.items():
        try:
            built[name] = build()
        except Exception as exc:  # reported as "unavailable" rows, never a crash
            built[name] = exc
    return built
