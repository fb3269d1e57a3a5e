"""LoRA adapters kept loaded in the warm pipeline, switched per job with ``set_adapters``.

Adapters are peft adapters inside the UNet and text encoders. Loading one costs a file read
and module injection, so adapters stay loaded across jobs in an LRU bounded by a memory budget;
a job only activates its set with its weights. diffusers' ``load_lora_weights`` reads both
diffusers/peft naming and kohya/SGM naming (``lora_unet_...``, ``lora_te1_...``).

With hot-swap slots (``lora_slots``, for a compiled UNet) only the text encoders get named
adapters; each LoRA's UNet part is kept in memory and copied into a slot when a job uses it.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InvalidSpec, ModelUnavailable
from .manifest import file_sha256
from .sources import SourceConfig, is_hub_source, resolve_source
from .spec import LoraSpec
from .weights import read_safetensors_header, tensor_bytes

if TYPE_CHECKING:
    from .lora_slots import HotswapSlots

logger = logging.getLogger(__name__)

DEFAULT_LORA_BUDGET_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class ResolvedLora:
    adapter_name: str
    path: Path
    weight: float
    sha256: str
    size_bytes: int


def resolve_lora(spec: LoraSpec) -> ResolvedLora:
    """Find the file (a local path or a hub id such as ``org/name/file.safetensors``), validate
    it (safetensors header, before anything deserialises it) and name it."""
    path = Path(spec.path)
    if not path.is_file() and is_hub_source(spec.path):
        path = Path(resolve_source(spec.path, SourceConfig(), layout="file"))
    if not path.is_file():
        raise ModelUnavailable(f"LoRA file not found: {path}")
    header = read_safetensors_header(path)
    sha256 = file_sha256(path)
    # The content hash names the adapter, so the same file is the same adapter in every job.
    name = spec.name or f"lora_{sha256[:16]}"
    if not name.replace("_", "").replace("-", "").isalnum():
        raise InvalidSpec(f"LoRA name {name!r} may use only letters, digits, '_' and '-'.")
    return ResolvedLora(name, path, float(spec.weight), sha256, tensor_bytes(header))


class LoraCache:
    """LRU of adapters loaded into one pipeline, bounded by ``budget_bytes`` of weights."""

    def __init__(self, budget_bytes: int = DEFAULT_LORA_BUDGET_BYTES):
        self.budget_bytes = budget_bytes
        self.loads = 0  # adapters read from disk; a repeated set adds nothing
        self._loaded: OrderedDict[str, ResolvedLora] = OrderedDict()
        self.slots: HotswapSlots | None = None
        self._unet_parts: dict[str, tuple] = {}  # with slots: each LoRA's UNet part

    def use_hotswap_slots(self, pipeline, *, count: int, max_rank: int) -> None:
        """Install the UNet's hot-swap slots; before the first LoRA is loaded."""
        from .lora_slots import HotswapSlots

        self.slots = HotswapSlots(pipeline, count=count, max_rank=max_rank)

    @property
    def loaded_names(self) -> list[str]:
        return list(self._loaded)

    @property
    def loaded_bytes(self) -> int:
        return sum(lora.size_bytes for lora in self._loaded.values())

    def activate(self, pipeline, loras: list[ResolvedLora]) -> None:
        """Make exactly ``loras`` active with their weights; none given disables LoRA."""
        if len({lora.adapter_name for lora in loras}) != len(loras):
            raise InvalidSpec("The same LoRA is listed twice; give it once with one weight.")
        for lora in loras:
            self._ensure_loaded(pipeline, lora, keep={other.adapter_name for other in loras})
        if not loras:
            if self._loaded or self.slots is not None:
                pipeline.disable_lora()
            return
        names = [lora.adapter_name for lora in loras]
        weights = [lora.weight for lora in loras]
        if self.slots is None:
            pipeline.enable_lora()
            pipeline.set_adapters(names, adapter_weights=weights)
            return
        from diffusers.loaders.lora_base import (
            disable_lora_for_text_encoder,
            enable_lora_for_text_encoder,
            set_adapters_for_text_encoder,
        )

        for encoder in (pipeline.text_encoder, pipeline.text_encoder_2):
            # Only adapters with a part in this encoder can be set on it.
            present = getattr(encoder, "peft_config", {})
            own = [(n, w) for n, w in zip(names, weights, strict=True) if n in present]
            if own:
                enable_lora_for_text_encoder(encoder)
                set_adapters_for_text_encoder([n for n, _ in own], encoder, [w for _, w in own])
            elif present:
                disable_lora_for_text_encoder(encoder)
        self.slots.set(pipeline, loras, self._unet_parts)

    def _ensure_loaded(self, pipeline, lora: ResolvedLora, keep: set[str]) -> None:
        if lora.adapter_name in self._loaded:
            self._loaded.move_to_end(lora.adapter_name)
            return
        self._evict_for(pipeline, lora.size_bytes, keep)
        try:
            if self.slots is None:
                pipeline.load_lora_weights(str(lora.path), adapter_name=lora.adapter_name)
            else:
                self._load_for_slots(pipeline, lora)
        except (ValueError, KeyError, RuntimeError) as exc:
            _remove_partial_adapter(pipeline, lora.adapter_name)
            raise InvalidSpec(
                f"LoRA {lora.path.name} does not fit this model (diffusers or kohya SDXL "
                f"naming expected): {exc}"
            ) from exc
        self.loads += 1
        self._loaded[lora.adapter_name] = lora
        logger.info("loaded LoRA %s (%d bytes)", lora.adapter_name, lora.size_bytes)

    def _evict_for(self, pipeline, incoming: int, keep: set[str]) -> None:
        """Unload least recently used adapters (never this job's) until ``incoming`` fits."""
        for name in list(self._loaded):
            if self.loaded_bytes + incoming <= self.budget_bytes:
                return
            if name in keep:
                continue
            pipeline.delete_adapters(name)  # with slots: from the text encoders only
            del self._loaded[name]
            self._unet_parts.pop(name, None)
            logger.info("evicted LoRA %s to stay within %d bytes", name, self.budget_bytes)

    def _load_for_slots(self, pipeline, lora: ResolvedLora) -> None:
        """The text encoders' parts as named adapters; the UNet part kept for the slots."""
        state_dict, alphas, metadata = pipeline.lora_state_dict(
            str(lora.path), unet_config=pipeline.unet.config, return_lora_metadata=True
        )
        encoders = (
            (pipeline.text_encoder, "text_encoder"),
            (pipeline.text_encoder_2, "text_encoder_2"),
        )
        for encoder, prefix in encoders:
            pipeline.load_lora_into_text_encoder(
                state_dict,
                network_alphas=alphas,
                text_encoder=encoder,
                prefix=prefix,
                lora_scale=pipeline.lora_scale,
                adapter_name=lora.adapter_name,
                metadata=metadata,
                _pipeline=pipeline,
            )
        unet_part = {k: v for k, v in state_dict.items() if k.startswith("unet.")}
        self._unet_parts[lora.adapter_name] = (unet_part, alphas, metadata)


def _remove_partial_adapter(pipeline, name: str) -> None:
    """A failed load may have injected the adapter into some components; take it out again."""
    try:
        pipeline.delete_adapters(name)
    except (ValueError, KeyError, AttributeError):
        logger.debug("no partial adapter %s to remove", name)
