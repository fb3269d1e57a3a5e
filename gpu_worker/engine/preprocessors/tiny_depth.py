"""A tiny random-weight DPT depth model, built in code for tests and saved like a real one.

Tests point ``ILLU_DEPTH_MODEL`` at the saved directory, so the production
``from_pretrained`` path is what loads it. Its output is meaningless but input-dependent.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

_INPUT_SIDE = 32


def _tiny_config() -> DPTConfig:
    # A 4-layer ViT-DPT (about 70k parameters) that takes 32x32 inputs in 8x8 patches.
    return DPTConfig(
        image_size=_INPUT_SIDE,
        patch_size=8,
        hidden_size=16,
        num_hidden_layers=4,
        backbone_out_indices=[0, 1, 2, 3],
        num_attention_heads=2,
        intermediate_size=32,
        neck_hidden_sizes=[8, 8, 16, 16],
        reassemble_factors=[4, 2, 1, 0.5],
        fusion_hidden_size=16,
        head_hidden_size=8,
        is_hybrid=False,
    )


def _keep_signal_alive(model: DPTForDepthEstimation) -> None:
    """Re-initialise convolutions so the output varies with the input.

    DPT's default init (std 0.02 everywhere) shrinks activations through the neck and head
    until the final ReLU outputs ~1e-9; He init keeps them near unit scale, and a positive
    last bias keeps most of the map above the ReLU's zero.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    last_conv = [m for m in model.head.modules() if isinstance(m, nn.Conv2d)][-1]
    nn.init.constant_(last_conv.bias, 1.0)


def build_tiny_depth_model(directory: str | Path, *, seed: int = 0) -> Path:
    """Write a tiny DPT model (safetensors) and its image processor to ``directory``."""
    directory = Path(directory)
    torch.manual_seed(seed)
    model = DPTForDepthEstimation(_tiny_config()).eval()
    _keep_signal_alive(model)
    model.save_pretrained(directory, safe_serialization=True)
    processor = DPTImageProcessor(
        size={"height": _INPUT_SIDE, "width": _INPUT_SIDE},
        keep_aspect_ratio=False,
        ensure_multiple_of=1,
    )
    processor.save_pretrained(directory)
    return directory
