"""The CUDA fast path, applied once when a pipeline is loaded: PyTorch SDPA attention,
channels-last memory format, and fused QKV projections in the VAE. The UNet's fused QKV is
switched per job by ``attention.AttentionSets`` (a LoRA or an IP-Adapter needs the separate
q/k/v layers), and ``torch.compile`` is the warm-up's (``compilation``).

Off CUDA every switch is off (CPU pipelines stay as loaded), unless ``FastPath.on_cpu`` is
set: tests set it so the tiny models on the CPU take exactly the code path a GPU worker takes.
Precision is the device profile's (fp16, or bf16 with ILLU_DTYPE=bf16)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FastPath:
    sdpa: bool = True
    channels_last: bool = True
    fuse_qkv: bool = True
    # Apply the switches on a CPU device too (tests: the GPU worker's code path, on the CPU).
    on_cpu: bool = False

    def active_on(self, device: str) -> bool:
        return device.startswith("cuda") or self.on_cpu

    def fuses_on(self, device: str) -> bool:
        """Whether the UNet's QKV projections are fused for plain jobs on ``device``."""
        return self.fuse_qkv and self.active_on(device)


def apply_fast_path(pipeline, device: str, fast: FastPath) -> list[str]:
    """Apply the load-time switches that are on; returns their names (empty off CUDA)."""
    if not fast.active_on(device):
        return []
    import torch
    from diffusers.models.attention_processor import AttnProcessor2_0

    applied = []
    if fast.sdpa:
        pipeline.unet.set_attn_processor(AttnProcessor2_0())
        pipeline.vae.set_attn_processor(AttnProcessor2_0())
        applied.append("sdpa")
    if fast.channels_last:
        pipeline.unet.to(memory_format=torch.channels_last)
        pipeline.vae.to(memory_format=torch.channels_last)
        applied.append("channels_last")
    if fast.fuse_qkv:
        # The VAE never gets a LoRA or an IP-Adapter: fused for good.
        pipeline.vae.fuse_qkv_projections()
        applied.append("fused_qkv")
    logger.info("fast path on %s: %s", device, ", ".join(applied) or "nothing")
    return applied
