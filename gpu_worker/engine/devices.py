"""Device and precision choice: fp16 with SDPA on CUDA, fp32 on CPU."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DeviceProfile:
    device: str
    dtype: torch.dtype

    @property
    def name(self) -> str:
        return f"{self.device}/{str(self.dtype).removeprefix('torch.')}"


def select_device(preferred: str | None = None) -> DeviceProfile:
    """Pick the device from ``preferred`` ("cuda", "cpu", "cuda:1"), else the best present."""
    device = preferred or os.environ.get("ILLU_DEVICE") or ""
    if not device:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        dtype = torch.bfloat16 if os.environ.get("ILLU_DTYPE") == "bf16" else torch.float16
        return DeviceProfile(device=device, dtype=dtype)
    return DeviceProfile(device=device, dtype=torch.float32)


def device_total_memory(device: str) -> int | None:
    """Total memory of a CUDA device in bytes; None for the CPU."""
    if not device.startswith("cuda") or not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_properties(torch.device(device)).total_memory


def enable_tf32() -> None:
    """TF32 tensor cores for fp32 matmuls and convolutions on CUDA (an fp32-upcast VAE decode,
    fp32 parts of the text encoders): 10-bit mantissa products, fp32 accumulation."""
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
