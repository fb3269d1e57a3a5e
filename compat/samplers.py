"""AUTOMATIC1111's sampler, schedule and upscaler names, and the platform's schedulers and
upscale methods they mean. Only what the platform really has is listed: a name missing here
(UniPC, Heun, ...) is unknown and refused, never silently replaced by another sampler."""

from __future__ import annotations

from dataclasses import dataclass

from .platform import SCHEDULER_NAMES


class UnknownName(ValueError):
    """A sampler, schedule or upscaler the platform does not have; the message says which
    names it does have, ``field`` which request field named it."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Sampler:
    name: str  # AUTOMATIC1111's name, as /sdapi/v1/samplers lists it
    aliases: tuple[str, ...]
    scheduler: str  # the platform's scheduler
    karras: bool  # whether the platform's scheduler uses Karras sigmas


SAMPLERS = (
    Sampler("Euler a", ("k_euler_a", "k_euler_ancestral", "euler_a"), "euler_a", False),
    Sampler("Euler", ("k_euler", "euler"), "euler", False),
    # The platform's dpmpp_2m uses Karras sigmas: A1111's "DPM++ 2M" with its automatic
    # schedule (Karras since 1.9) and the older name "DPM++ 2M Karras" are the same sampler.
    Sampler(
        "DPM++ 2M", ("DPM++ 2M Karras", "k_dpmpp_2m", "k_dpmpp_2m_ka", "dpmpp_2m"), "dpmpp_2m", True
    ),
    Sampler("DDIM", ("ddim",), "ddim", False),
    # A1111's LCM sampler (for LCM checkpoints and LCM-LoRA): the platform's few-step lcm.
    Sampler("LCM", ("k_lcm", "lcm"), "lcm", False),
)
assert {sampler.scheduler for sampler in SAMPLERS} <= set(SCHEDULER_NAMES)

# A1111's schedule types (its `scheduler` field). "automatic" is each sampler's own.
AUTOMATIC = "automatic"
SCHEDULES = (
    {
        "name": AUTOMATIC,
        "label": "Automatic",
        "aliases": None,
        "default_rho": -1,
        "need_inner_model": False,
    },
    {
        "name": "karras",
        "label": "Karras",
        "aliases": None,
        "default_rho": 7.0,
        "need_inner_model": False,
    },
)

# Upscalers for enable_hr: the platform's two upscale methods under A1111's names.
UPSCALERS = (
    {"name": "None", "method": "lanczos"},
    {"name": "Lanczos", "method": "lanczos"},
    {"name": "Nearest", "method": "lanczos"},
    {"name": "SDXL tiled", "method": "tiled"},
)
# Every latent upscaler of A1111 (its default "Latent" among them) re-diffuses at the larger
# size, which is what the tiled SDXL upscale does.
LATENT_UPSCALER_PREFIX = "latent"


def _key(name: str) -> str:
    return name.strip().lower()


_BY_NAME = {
    _key(alias): sampler for sampler in SAMPLERS for alias in (sampler.name, *sampler.aliases)
}


def sampler_named(name: str) -> Sampler:
    """The sampler with this name or alias (case-insensitive), or UnknownName."""
    sampler = _BY_NAME.get(_key(name))
    if sampler is None:
        known = ", ".join(sampler.name for sampler in SAMPLERS)
        raise UnknownName(f"Unknown sampler {name!r}; this server has {known}.", "sampler_name")
    return sampler


def scheduler_for(sampler_name: str | None, schedule: str | None) -> str | None:
    """The platform scheduler for an A1111 sampler and schedule type; None when neither is
    given (the style preset or the platform default decides). Raises UnknownName for a
    sampler the platform lacks or a schedule it cannot run with that sampler."""
    schedule_key = _key(schedule or AUTOMATIC) or AUTOMATIC
    if schedule_key not in {item["name"] for item in SCHEDULES}:
        known = ", ".join(item["name"] for item in SCHEDULES)
        raise UnknownName(
            f"Unknown schedule type {schedule!r}; this server has {known}.", "scheduler"
        )
    if not sampler_name:
        if schedule_key == "karras":
            return sampler_named("DPM++ 2M").scheduler
        return None
    sampler = sampler_named(sampler_name)
    if schedule_key == "karras" and not sampler.karras:
        raise UnknownName(
            f"The schedule type 'karras' is not available with {sampler.name!r}; use "
            "'automatic', or the sampler 'DPM++ 2M'.",
            "scheduler",
        )
    return sampler.scheduler


def upscale_method_for(upscaler: str | None) -> str:
    """The platform's upscale method (``tiled`` or ``lanczos``) for an A1111 hr_upscaler."""
    key = _key(upscaler or "Latent")
    if key.startswith(LATENT_UPSCALER_PREFIX):
        return "tiled"
    for item in UPSCALERS:
        if _key(item["name"]) == key:
            return item["method"]
    known = ", ".join(["Latent", *(item["name"] for item in UPSCALERS)])
    raise UnknownName(f"Unknown upscaler {upscaler!r}; this server has {known}.", "hr_upscaler")


def sampler_label(scheduler: str) -> str:
    """A1111's name for a platform scheduler (for infotexts)."""
    for sampler in SAMPLERS:
        if sampler.scheduler == scheduler:
            return sampler.name
    return scheduler
