"""Scheduler swaps built from the loaded scheduler's config (no reload of weights)."""

from __future__ import annotations

from typing import Any

from .errors import InvalidSpec

SCHEDULER_NAMES = ("euler", "euler_a", "dpmpp_2m", "ddim")


def build_scheduler(name: str, base_config: dict[str, Any]):
    from diffusers import (
        DDIMScheduler,
        DPMSolverMultistepScheduler,
        EulerAncestralDiscreteScheduler,
        EulerDiscreteScheduler,
    )

    if name == "euler":
        return EulerDiscreteScheduler.from_config(base_config)
    if name == "euler_a":
        return EulerAncestralDiscreteScheduler.from_config(base_config)
    if name == "dpmpp_2m":
        return DPMSolverMultistepScheduler.from_config(
            base_config, algorithm_type="dpmsolver++", solver_order=2, use_karras_sigmas=True
        )
    if name == "ddim":
        return DDIMScheduler.from_config(base_config)
    raise InvalidSpec(f"Unknown scheduler {name!r}; choose one of {', '.join(SCHEDULER_NAMES)}.")
