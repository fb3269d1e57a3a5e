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
