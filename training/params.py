"""Training defaults and the resolution of a request into a run's parameters.

Real SDXL gets what works for character LoRAs (rank 16, 1e-4, 1000 steps at 1024 px); the
tiny demo model gets small numbers, so `make run` trains in well under a minute on a CPU."""

from __future__ import annotations

import random
from typing import Any

from django.conf import settings

from catalog.models import LoraType

SDXL_DEFAULTS = {
    "rank": 16,
    "alpha": 16.0,
    "learning_rate": 1e-4,
    "steps": 1000,
    "resolution": 1024,
    "batch_size": 1,
    "train_text_encoder": False,
    "snr_gamma": 5.0,
    "checkpoint_every": 250,
    "sample_steps": 25,
    "naming": "diffusers",
}
DEMO_DEFAULTS = {
    **SDXL_DEFAULTS,
    "rank": 4,
    "alpha": 4.0,
    "learning_rate": 5e-3,
    "steps": 60,
    "resolution": 64,
    "checkpoint_every": 20,
    "sample_steps": 4,
}
CAPTION_TEMPLATES = {
    LoraType.CHARACTER: "a photo of {trigger}",
    LoraType.STYLE: "an illustration in {trigger} style",
}
DEFAULT_CAPTION_TEMPLATE = "{trigger}"
SAMPLE_PROMPTS = {
    LoraType.CHARACTER: "a portrait of {trigger}, reading a book in a garden",
    LoraType.STYLE: "a lighthouse at dusk in {trigger} style",
}
TUNABLE = tuple(SDXL_DEFAULTS)


def training_defaults() -> dict[str, Any]:
    return dict(DEMO_DEFAULTS if not settings.ILLU_SDXL_MODEL else SDXL_DEFAULTS)


def caption_for(template: str, trigger: str) -> str:
    return template.replace("{trigger}", trigger)


def resolve_training_params(requested: dict[str, Any], lora_type: str, trigger: str) -> dict:
    """Explicit values, else the defaults for the configured model; the seed is drawn when
    not given and stored, so a run is reproducible."""
    params = training_defaults()
    params.update({key: requested[key] for key in TUNABLE if requested.get(key) is not None})
    if "snr_gamma" in requested:  # null turns Min-SNR weighting off
        params["snr_gamma"] = requested["snr_gamma"]
    seed = requested.get("seed")
    params["seed"] = seed if seed is not None else random.randrange(2**32)  # noqa: S311
    prompts = requested.get("sample_prompts")
    if prompts is None:
        template = SAMPLE_PROMPTS.get(lora_type, "{trigger}")
        prompts = [caption_for(template, trigger)]
    params["sample_prompts"] = list(prompts)
    params["model"] = settings.ILLU_SDXL_MODEL or "demo:tiny-sdxl"
    params["checkpoint_every"] = min(params["checkpoint_every"], params["steps"])
    return params
