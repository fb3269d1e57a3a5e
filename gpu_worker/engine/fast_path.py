"""The CUDA fast path: PyTorch SDPA attention, channels-last memory format, fused QKV
projections, ``torch.compile`` of the UNet and the VAE decode (``dynamic=False``: one graph
per served batch size, each compiled by the warm-up at worker start, so no request pays a
recompile) and CUDA graphs through ``mode="max-autotune"``. Every switch acts on CUDA only:
CPU pipelines (tests, demos) stay exactly as loaded. Precision is the device profile's
(fp16, or bf16 with ILLU_DTYPE=bf16)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FastPath:
    sdpa: bool = True
    channels_last: bool = True
    fuse_qkv: bool = True
    compile_unet: bool = False
    compile_vae: bool = False
    cuda_graphs: bool = False
    # torch.compile mode; empty: "max-autotune" with CUDA graphs, else without them.
    compile_mode: str = ""

    @property
    def compiles(self) -> bool:
        return self.compile_unet or self.compile_vae


def apply_fast_path(pipeline, device: str, fast: FastPath, compile_allowed: bool) -> list[str]:
    """Apply the switches that are on; returns their names (empty off CUDA)."""
    if not device.startswith("cuda"):
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
        sync_qkv_fusion(pipeline, device, fast, uses_loras=False)
        applied.append("fused_qkv")
    if fast.compiles and compile_allowed:
        # CUDA graphs replay fixed shapes: only with dynamic=False and warmed-up sizes.
        mode = fast.compile_mode or (
            "max-autotune" if fast.cuda_graphs else "max-autotune-no-cudagraphs"
        )
        if fast.compile_unet:
            # Module.compile keeps the module object, so LoRA injection still finds its layers.
            pipeline.unet.compile(mode=mode, dynamic=False)
            applied.append(f"compiled_unet({mode})")
        if fast.compile_vae:
            pipeline.vae.decode = torch.compile(pipeline.vae.decode, mode=mode, dynamic=False)
            applied.append(f"compiled_vae_decode({mode})")
    logger.info("CUDA fast path: %s", ", ".join(applied) or "nothing")
    return applied


def sync_qkv_fusion(pipeline, device: str, fast: FastPath, *, uses_loras: bool) -> None:
    """Fused QKV reads the base weights once; a LoRA adapter lives on the separate q/k/v
    layers, so a run with LoRAs needs them unfused (and one without gets them fused back)."""
    if not device.startswith("cuda") or not fast.fuse_qkv:
        return
    fused = bool(getattr(pipeline, "fusing_unet", False))
    if uses_loras and fused:
        pipeline.unfuse_qkv_projections()
    elif not uses_loras and not fused:
        pipeline.fuse_qkv_projections()
