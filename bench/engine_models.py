"""Weights for bench/engine.py: the base SDXL (tiny on CPU, full-size random on CUDA) and, built
from its UNet, a ControlNet, an IP-Adapter and LoRAs of matching shapes.

The attachments are built here, generically from whatever base UNet is given, so the CPU run
that the smoke test makes exercises the very code that builds the full-size ones on a GPU.
Random weights: compute and memory are those of real models, the images are noise.
"""

from __future__ import annotations

from pathlib import Path

import torch

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
TINY_VISION = {
    "hidden_size": 32,
    "intermediate_size": 37,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "projection_dim": 32,
    "image_size": 32,
    "patch_size": 8,
}
IP_TOKENS = 4  # the plain IP-Adapter's image tokens


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


def _attention_width(unet, processor_name: str) -> int:
    channels = unet.config.block_out_channels
    if processor_name.startswith("mid_block"):
        return channels[-1]
    block = int(processor_name.split(".")[1])
    return list(reversed(channels))[block] if processor_name.startswith("up_") else channels[block]


def build_ip_adapter(unet, directory: Path, *, vision: dict) -> Path:
    """Plain IP-Adapter weights for ``unet`` with a CLIP vision encoder in ``image_encoder/``
    beside them (h94/IP-Adapter's layout)."""
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    weights = directory / "ip-adapter.safetensors"
    if weights.exists():
        return weights
    directory.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(7)
    config = CLIPVisionConfig(num_channels=3, **vision)
    CLIPVisionModelWithProjection(config).save_pretrained(
        directory / "image_encoder", safe_serialization=True
    )
    cross = unet.config.cross_attention_dim
    tensors = {
        "image_proj.proj.weight": torch.randn(
            IP_TOKENS * cross, config.projection_dim, generator=generator
        )
        * 0.02,
        "image_proj.proj.bias": torch.zeros(IP_TOKENS * cross),
        "image_proj.norm.weight": torch.ones(cross),
        "image_proj.norm.bias": torch.zeros(cross),
    }
    cross_attention = [name for name in unet.attn_processors if name.endswith("attn2.processor")]
    for index, name in enumerate(cross_attention):
        width = _attention_width(unet, name)
        for kind in ("to_k_ip", "to_v_ip"):
            tensors[f"ip_adapter.{2 * index + 1}.{kind}.weight"] = (
                torch.randn(width, cross, generator=generator) * 0.02
            )
    save_file(tensors, weights)
    return weights


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
