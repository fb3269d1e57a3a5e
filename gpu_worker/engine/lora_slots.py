"""LoRA hot-swap slots in the UNet, so a compiled UNet serves every LoRA without a new graph.

At install the UNet gets ``count`` adapters ("slots") of rank ``max_rank`` with zero weights
on every linear layer of its transformer blocks (where SDXL LoRAs live), through diffusers'
``enable_lora_hotswap``; their scalings become tensors. A job's LoRAs are then copied into
the slots in place (``load_lora_into_unet(..., hotswap=True)``: smaller ranks are zero-padded,
layers a LoRA leaves out are zeroed) and its weights are written into the scaling tensors:
the graph dynamo compiled never sees a new module, adapter name or Python float. Unused slots
get weight 0, which adds exactly nothing. A plain job runs with the adapters disabled (the
plain graph). The text encoders are not compiled: their LoRA parts load as named adapters.
"""

from __future__ import annotations

import logging

import torch

from .errors import InvalidSpec
from .frozen import freeze

logger = logging.getLogger(__name__)

SLOT_PREFIX = "hotswap_slot_"


def slot_targets(unet) -> dict[str, torch.nn.Linear]:
    """Every linear layer of the UNet's transformer blocks (attention projections, feed-forward,
    proj_in/proj_out): the layers SDXL LoRAs (kohya, diffusers, peft) adapt."""
    return {
        name: module
        for name, module in unet.named_modules()
        if isinstance(module, torch.nn.Linear) and ".attentions." in name and "_ip" not in name
    }


class HotswapSlots:
    """The slots of one UNet and which LoRA each holds."""

    def __init__(self, pipeline, *, count: int, max_rank: int):
        from peft.utils.hotswap import prepare_model_for_compiled_hotswap

        unet = pipeline.unet
        if getattr(unet, "peft_config", None):
            raise RuntimeError("Hot-swap slots go in before any LoRA is loaded into the UNet.")
        self.names = [f"{SLOT_PREFIX}{index}" for index in range(count)]
        self.max_rank = max_rank
        self.holding: list[str | None] = [None] * count  # adapter name per slot
        self._unit_scalings: list[dict[str, float]] = [{} for _ in range(count)]
        unet.enable_lora_hotswap(target_rank=max_rank)
        zeros = {}
        for name, layer in slot_targets(unet).items():
            zeros[f"{name}.lora_A.weight"] = torch.zeros(max_rank, layer.in_features)
            zeros[f"{name}.lora_B.weight"] = torch.zeros(layer.out_features, max_rank)
        for slot in self.names:
            unet.load_lora_adapter(dict(zeros), prefix=None, adapter_name=slot)
        unet.set_adapters(self.names, weights=[0.0] * count)
        # Every slot's scalings as tensors (diffusers converted the first slot's only).
        prepare_model_for_compiled_hotswap(unet, target_rank=max_rank, check_compiled="ignore")
        unet.disable_lora()
        self._layers = _lora_layers(unet)  # swaps change weights, never modules
        logger.info("installed %d LoRA hot-swap slots of rank %d", count, max_rank)

    def set(self, pipeline, loras, unet_parts: dict[str, tuple]) -> None:
        """Put ``loras`` (ResolvedLora) into the slots, with their weights; the other slots
        weigh 0. ``unet_parts[adapter_name]`` is (state dict, network alphas, metadata)."""
        if len(loras) > len(self.names):
            raise InvalidSpec(
                f"This worker runs at most {len(self.names)} LoRAs in one job "
                "(its LoRA hot-swap slots)."
            )
        # A LoRA already in a slot stays there; the others take the remaining slots.
        placed = {
            self.holding.index(lora.adapter_name): lora
            for lora in loras
            if lora.adapter_name in self.holding
        }
        free = iter(index for index in range(len(self.names)) if index not in placed)
        for lora in loras:
            if lora.adapter_name not in self.holding:
                index = next(free)
                self._swap_in(pipeline, index, lora, unet_parts[lora.adapter_name])
                placed[index] = lora
        for index in range(len(self.names)):
            self._weigh(index, placed[index].weight if index in placed else 0.0)
        pipeline.unet.enable_lora()

    def enable(self, unet) -> None:
        """Adapters on with every slot at weight 0: the state a LoRA job's graph sees."""
        for index in range(len(self.names)):
            self._weigh(index, 0.0)
        unet.enable_lora()
        freeze([unet])  # enable_lora made the slots trainable; a job runs them frozen

    def _swap_in(self, pipeline, index: int, lora, part: tuple) -> None:
        state_dict, alphas, metadata = part
        ranks = [value.shape[1] for key, value in state_dict.items() if "lora_B" in key]
        if ranks and max(ranks) > self.max_rank:
            raise InvalidSpec(
                f"LoRA {lora.path.name} has rank {max(ranks)}; this worker hot-swaps LoRAs up "
                f"to rank {self.max_rank} (ILLU_LORA_HOTSWAP_MAX_RANK)."
            )
        slot = self.names[index]
        self.holding[index] = None  # until the swap has succeeded
        try:
            pipeline.load_lora_into_unet(
                dict(state_dict),
                network_alphas=alphas,
                unet=pipeline.unet,
                adapter_name=slot,
                metadata=metadata,
                _pipeline=pipeline,
                hotswap=True,
            )
        except (ValueError, RuntimeError, KeyError) as exc:
            self._zero(slot)
            raise InvalidSpec(
                f"LoRA {lora.path.name} cannot be hot-swapped (it adapts layers outside the "
                f"UNet's transformer blocks, or uses DoRA or per-layer alphas): {exc}"
            ) from exc
        self.holding[index] = lora.adapter_name
        self._unit_scalings[index] = {
            name: float(layer.scaling[slot])
            for name, layer in self._layers
            if slot in layer.scaling
        }

    def _weigh(self, index: int, weight: float) -> None:
        slot, units = self.names[index], self._unit_scalings[index]
        for name, layer in self._layers:
            scaling = layer.scaling.get(slot)
            if isinstance(scaling, torch.Tensor):
                scaling.fill_(units.get(name, 1.0) * weight)

    def _zero(self, slot: str) -> None:
        with torch.no_grad():
            for _, layer in self._layers:
                for weights in (layer.lora_A, layer.lora_B):
                    if slot in weights:
                        weights[slot].weight.zero_()


def _lora_layers(unet):
    from peft.tuners.lora import LoraLayer

    return [
        (name, module) for name, module in unet.named_modules() if isinstance(module, LoraLayer)
    ]
