"""Scheduler swaps built from the loaded scheduler's config (no reload of weights).

Few-step distilled SDXL variants need their own samplers: ``lcm`` (LCM and LCM-LoRA), ``tcd``
(TCD-LoRA) and ``euler_trailing``, Euler over trailing timesteps, which SDXL-Lightning and
Hyper-SD are distilled for (their model cards ask for ``timestep_spacing="trailing"``)."""

from __future__ import annotations

from typing import Any

from .errors import InvalidSpec

SCHEDULER_NAMES = ("euler", "euler_a", "dpmpp_2m", "ddim", "lcm", "tcd", "euler_trailing")
FEW_STEP_SCHEDULERS = frozenset({"lcm", "tcd", "euler_trailing"})


def build_scheduler(name: str, base_config: dict[str, Any]):
    from diffusers import (
        DDIMScheduler,
        DPMSolverMultistepScheduler,
        EulerAncestralDiscreteScheduler,
        EulerDiscreteScheduler,
        LCMScheduler,
        TCDScheduler,
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
    if name == "lcm":
        return LCMScheduler.from_config(base_config)
    if name == "tcd":
        return TCDScheduler.from_config(base_config)
    if name == "euler_trailing":
        return EulerDiscreteScheduler.from_config(base_config, timestep_spacing="trailing")
    raise InvalidSpec(f"Unknown scheduler {name!r}; choose one of {', '.join(SCHEDULER_NAMES)}.")
