"""The control types a job or a style may name (defined here once: the job API, the create
form and the style presets read them), and the rule for a style preset's ControlNet weights,
shared by the admin form and the registry import: a mapping of known control type to a
weight within range."""

from __future__ import annotations

from typing import Any

CONTROL_TYPES = ("canny", "depth", "pose", "segmentation", "normal", "scribble")
CONTROL_WEIGHT_RANGE = (0.0, 2.0)


def controlnet_weights_errors(value: Any) -> list[str]:
    """Why a style's ControlNet weights are invalid (empty when valid)."""
    if not isinstance(value, dict):
        return ['Must be a mapping of control type to weight, e.g. {"canny": 0.9}.']
    low, high = CONTROL_WEIGHT_RANGE
    errors = []
    for key, weight in value.items():
        if key not in CONTROL_TYPES:
            errors.append(f"Unknown control type {key!r}; use one of {', '.join(CONTROL_TYPES)}.")
        elif isinstance(weight, bool) or not isinstance(weight, int | float):
            errors.append(f"Weight of {key!r} must be a number.")
        elif not low <= weight <= high:
            errors.append(f"Weight of {key!r} is {weight}; it must be within {low}..{high}.")
    return errors
