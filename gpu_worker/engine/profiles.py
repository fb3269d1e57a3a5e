"""Memory profiles: how to place SDXL on a device, chosen from its total memory.

>= 80 GB: everything resident and ``torch.compile`` allowed; >= 24 GB: everything resident;
smaller: model CPU offload (one module on the GPU at a time) and tiled VAE decode. Marketed
sizes are compared with 5% slack because the driver reserves part of the memory
(an "80 GB" H100 reports 79.1 GiB).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidSpec

_GIB = 1024**3
_SLACK = 0.95


@dataclass(frozen=True)
class MemoryProfile:
    name: str
    compile_allowed: bool
    cpu_offload: bool
    vae_tiling: bool


PROFILES = {
    "large": MemoryProfile("large", compile_allowed=True, cpu_offload=False, vae_tiling=False),
    "standard": MemoryProfile(
        "standard", compile_allowed=False, cpu_offload=False, vae_tiling=False
    ),
    "low": MemoryProfile("low", compile_allowed=False, cpu_offload=True, vae_tiling=True),
    # CPU inference: nothing to offload to, nothing worth compiling for tests and demos.
    "cpu": MemoryProfile("cpu", compile_allowed=False, cpu_offload=False, vae_tiling=False),
}


def choose_memory_profile(total_bytes: int | None, override: str | None = None) -> MemoryProfile:
    """Pure: the profile for a device with ``total_bytes`` (None: no GPU), or ``override``."""
    if override:
        if override not in PROFILES:
            raise InvalidSpec(f"Unknown memory profile {override!r}; one of {', '.join(PROFILES)}.")
        return PROFILES[override]
    if total_bytes is None:
        return PROFILES["cpu"]
    if total_bytes >= 80 * _GIB * _SLACK:
        return PROFILES["large"]
    if total_bytes >= 24 * _GIB * _SLACK:
        return PROFILES["standard"]
    return PROFILES["low"]


# Device memory left for activations, the VAE decode and compiled graphs, per profile.
_WORKING_HEADROOM = {"large": 12 * _GIB, "standard": 6 * _GIB}
# An SDXL checkpoint in fp16 (UNet 5.1 GB, text encoders 1.6 GB, VAE 0.2 GB).
SDXL_FP16_BYTES = 7 * 10**9
# CPU workers serve demos and tests: a few models, within a quarter of the host's memory.
CPU_RESIDENT_MODELS = 3
HOST_TIER_SHARE = 0.5  # at most this share of the host's free memory parks models


def resident_budget_bytes(total_bytes: int | None, profile: MemoryProfile, host_bytes: int) -> int:
    """Pure: device bytes a worker may fill with resident base models. An H200 (139 GiB)
    keeps about 18 SDXL checkpoints in fp16, a 24 GB card two, an offloaded (low) profile one
    (its models live in host memory anyway); a CPU worker a quarter of ``host_bytes``."""
    if total_bytes is None:
        return host_bytes // 4
    if profile.cpu_offload:
        return 0  # one model at a time: the count is kept by the residency (never below one)
    return max(0, int(total_bytes * _SLACK) - _WORKING_HEADROOM.get(profile.name, 6 * _GIB))
