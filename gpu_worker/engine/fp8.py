"""fp8 UNet on Hopper and Ada GPUs: the UNet's linear layers in float8 through torchao.

Off by default (``EngineConfig.fp8``, ``ILLU_FP8``). When on, it is applied at load, on CUDA
devices of compute capability 8.9 or more only: weights are stored in float8 (e4m3, one
scale per output row in bf16, per tensor in fp16) and activations are scaled dynamically per
call (torchao's ``Float8DynamicActivationFloat8WeightConfig``), so matmuls run on the fp8
tensor cores. Convolutions, norms and attention keep the pipeline's dtype. Anywhere else the
pipeline stays exactly as loaded and one log line says why. torchao is imported only there.
Fused QKV projections are left off with fp8 (fusing concatenates the quantised weights).
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

MIN_CAPABILITY = (8, 9)  # Ada (sm_89) and Hopper (sm_90): fp8 tensor cores
_ALIGNMENT = 16  # torch._scaled_mm needs both matrix sides divisible by 16


def fp8_unsupported_reason(device: str, capability: tuple[int, int] | None = None) -> str | None:
    """Why fp8 cannot run on ``device`` (None when it can). ``capability`` overrides the
    device's own (CUDA compute capability)."""
    if not device.startswith("cuda"):
        return f"the device is {device}, not a CUDA GPU"
    if capability is None:
        import torch

        if not torch.cuda.is_available():
            return "CUDA is not available"
        capability = tuple(torch.cuda.get_device_capability(device))
    if tuple(capability) < MIN_CAPABILITY:
        major, minor = capability
        return f"compute capability {major}.{minor} is below 8.9 (no fp8 tensor cores)"
    return None


def quantizable_linear(module, _name: str = "") -> bool:
    """The linear layers float8 can take: both sides multiples of 16."""
    import torch

    return (
        isinstance(module, torch.nn.Linear)
        and module.in_features % _ALIGNMENT == 0
        and module.out_features % _ALIGNMENT == 0
    )


def apply_fp8(pipeline, device: str, enabled: bool) -> bool:
    """Quantise ``pipeline.unet``'s linear layers to float8 when ``enabled`` and the device
    supports it; returns whether it did. Never raises for an unsupported setup: it logs."""
    if not enabled:
        return False
    reason = fp8_unsupported_reason(device)
    if reason is None:
        try:
            from torchao.quantization import (
                Float8DynamicActivationFloat8WeightConfig,
                PerRow,
                PerTensor,
                quantize_,
            )
        except ImportError as exc:
            reason = f"torchao is not installed ({exc})"
    if reason is not None:
        logger.warning(
            "fp8 was asked for (ILLU_FP8) but %s: the UNet stays in %s, unchanged.",
            reason,
            str(pipeline.unet.dtype).removeprefix("torch."),
        )
        return False
    import torch

    # Row-wise scales need bf16 activations; fp16 pipelines get one scale per tensor.
    granularity = PerRow() if pipeline.unet.dtype == torch.bfloat16 else PerTensor()
    quantize_(
        pipeline.unet,
        Float8DynamicActivationFloat8WeightConfig(granularity=granularity),
        filter_fn=quantizable_linear,
    )
    logger.info(
        "fp8: UNet linear layers quantised to float8 (%s scales)", type(granularity).__name__
    )
    return True
