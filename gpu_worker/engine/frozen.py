"""No parameter in the engine requires grad: the engine only infers, and PyTorch's numerics
depend on the flag even under ``no_grad``.

``torch.matmul`` (what ``F.linear`` runs for a 3-D input that is not contiguous, such as the
channels-last UNet's ``proj_in`` input) folds the input into one matrix for ``mm`` when the
weight requires grad and otherwise runs ``bmm`` on it. The two kernels round fp16 differently,
so the same layer gave other pixels depending on a flag that the job history set: diffusers
loads every module trainable, peft freezes the whole UNet and text encoders when it injects
the first LoRA and marks an active adapter's weights trainable again on every ``set_adapters``
or ``enable_lora``, and modules built later (fused QKV, an IP-Adapter's processors, a
ControlNet) start trainable. A warm engine after a LoRA job then differed from a fresh one.
ControlNets are frozen when loaded, the pipeline when it first serves and again when each
job is set up (``resting``), so the flag is the same whatever ran before."""

from __future__ import annotations

from collections.abc import Iterable

import torch


def freeze(modules: Iterable[torch.nn.Module | None]) -> None:
    """Set ``requires_grad=False`` on every parameter of ``modules`` (None entries skipped)."""
    for module in modules:
        if module is None:
            continue
        for parameter in module.parameters():
            if parameter.requires_grad:
                parameter.requires_grad_(False)


def trainable(module: torch.nn.Module) -> bool:
    """Whether any parameter of ``module`` requires grad (the resting state reports it)."""
    return any(parameter.requires_grad for parameter in module.parameters())
