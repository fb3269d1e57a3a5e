"""The resting state of a warm pipeline: what it holds between jobs, and what every job
returns it to, whatever the job did or how it ended.

At rest: every component in the dtype it was loaded in; the UNet's resting attention
processors (fused QKV when the fast path fuses); LoRA adapters loaded but disabled; an
IP-Adapter loaded but without its image tokens; no parameter requiring grad (``frozen``;
a job freezes what it set up too). A job changes only what it needs (see
``Engine.prepare``) and ``restore`` puts it back. The dtype check also runs after every
pipeline call: diffusers' ControlNet inpaint pipelines upcast the VAE to fp32 for the decode
and never cast it back, and an upcast VAE decode that fails (out of memory) would leave it so
too."""

from __future__ import annotations

from typing import Any

import torch

from .attention import AttentionSets
from .frozen import freeze, trainable


class RestingState:
    """Kept by the engine for one warm pipeline (built when it first serves a job)."""

    def __init__(self, warm, *, fuse_qkv: bool, hotswap_slots: tuple[int, int] | None = None):
        """``hotswap_slots``: (count, max rank) of LoRA hot-swap slots to install first."""
        self.warm = warm
        self.pipeline = warm.pipeline
        _register_image_projection_slot(self.pipeline.unet)
        if hotswap_slots is not None and warm.loras.slots is None:
            count, max_rank = hotswap_slots
            warm.loras.use_hotswap_slots(self.pipeline, count=count, max_rank=max_rank)
        self.attention = AttentionSets(self.pipeline.unet, fuse=fuse_qkv)
        self.dtypes: dict[str, torch.dtype] = {}
        self._record_dtypes()
        self._loaded_with = list(self.dtypes)  # the components it was loaded with
        AttentionSets.apply(self.pipeline.unet, self.attention.resting)
        self.freeze()  # loaded trainable, and the fused projections were built so

    def freeze(self) -> None:
        """No parameter of the pipeline's modules requires grad (ControlNets load frozen)."""
        freeze(_modules(self.pipeline).values())

    def _record_dtypes(self) -> None:
        # Components attached later (an IP-Adapter's image encoder) rest in the dtype they
        # came in with.
        for name, module in _modules(self.pipeline).items():
            self.dtypes.setdefault(name, module.dtype)

    def restore_dtypes(self) -> None:
        for name, module in _modules(self.pipeline).items():
            resting = self.dtypes.setdefault(name, module.dtype)
            if module.dtype != resting:
                module.to(dtype=resting)

    def restore(self) -> None:
        """Back to rest: adapters disabled, image tokens out, resting processors and dtypes."""
        pipeline = self.pipeline
        self.warm.loras.activate(pipeline, [])
        self.warm.ip_adapter.rest(pipeline)
        AttentionSets.apply(pipeline.unet, self.attention.resting)
        self.restore_dtypes()

    def describe(self) -> dict[str, Any]:
        """The state as plain data (tests compare it with a fresh engine's)."""
        unet = self.pipeline.unet
        modules = _modules(self.pipeline)
        return {
            # The components it was loaded with (an IP-Adapter's image encoder stays loaded).
            "dtypes": {name: str(modules[name].dtype) for name in self._loaded_with},
            "processors": {
                name: type(processor).__name__ for name, processor in unet.attn_processors.items()
            },
            "image_projection": unet.encoder_hid_proj is not None,
            "lora_enabled": {name: _lora_enabled(modules[name]) for name in self._loaded_with},
            "trainable": [name for name, module in modules.items() if trainable(module)],
        }


def _register_image_projection_slot(unet) -> None:
    """The UNet starts with ``encoder_hid_proj = None`` as a plain attribute; an IP-Adapter
    makes it a submodule, and setting it back to None leaves a None submodule entry. Make it
    that entry from the start, so an adapter coming and going leaves the UNet's layout (and
    a compiled graph's guards on it) exactly as it was."""
    if "encoder_hid_proj" not in unet._modules:
        projection = unet.__dict__.pop("encoder_hid_proj", None)
        unet.add_module("encoder_hid_proj", projection)


def _modules(pipeline) -> dict[str, torch.nn.Module]:
    return {
        name: module
        for name, module in pipeline.components.items()
        if isinstance(module, torch.nn.Module)
    }


def _lora_enabled(module: torch.nn.Module) -> bool:
    """Whether any of the module's LoRA layers would apply an adapter."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    layers = [m for m in module.modules() if isinstance(m, BaseTunerLayer)]
    return any(not layer.disable_adapters for layer in layers)
