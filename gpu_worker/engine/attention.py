"""The UNet's attention processors for each kind of job, kept by the engine.

A plain job runs the fused QKV projections (when the fast path fuses); a job with LoRAs
needs the separate q/k/v layers its adapters live on; a job with reference images runs the
IP-Adapter's processors. diffusers' ``fuse_qkv_projections`` records whatever processors are
attached at that moment as the "original" ones that ``unfuse_qkv_projections`` goes back to:
fused while an IP-Adapter was attached, a later LoRA job ran the IP-Adapter's processors
without image tokens. So the engine never unfuses through diffusers: it fuses the projection
weights once and sets the processor set each job needs, by name."""

from __future__ import annotations

from typing import Any

Processors = dict[str, Any]


class AttentionSets:
    """The plain (separate q/k/v, as loaded) and fused processor sets of one UNet."""

    def __init__(self, unet, *, fuse: bool):
        from diffusers.models.attention_processor import Attention, FusedAttnProcessor2_0

        self.plain: Processors = dict(unet.attn_processors)
        self.fused: Processors | None = None
        if fuse:
            for module in unet.modules():
                if isinstance(module, Attention):
                    module.fuse_projections(fuse=True)
            self.fused = {name: FusedAttnProcessor2_0() for name in self.plain}

    @property
    def resting(self) -> Processors:
        """What a plain job runs, and what the UNet holds between jobs."""
        return self.fused if self.fused is not None else self.plain

    def for_job(self, *, loras: bool, ip_adapter: Processors | None) -> Processors:
        if ip_adapter is not None:
            return ip_adapter
        return self.plain if loras else self.resting

    @staticmethod
    def apply(unet, processors: Processors) -> None:
        current = unet.attn_processors
        if all(current[name] is processor for name, processor in processors.items()):
            return
        # set_attn_processor pops from the dict it is given: hand it a copy.
        unet.set_attn_processor(dict(processors))
