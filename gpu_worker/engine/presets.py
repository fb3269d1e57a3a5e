"""Spec presets for the two IP-Adapter modes the platform took over (defaults from the
AutoBio service): memory (a prompt plus the user's avatar) and subject (a portrait from the
user's photo). They only build GenerationSpecs; nothing here runs a model."""

from __future__ import annotations

from PIL import Image

from .spec import GenerationSpec

DEFAULT_IP_ADAPTER_SCALE = 0.33
DEFAULT_NEGATIVE_PROMPT = "error, glitch, mistake"
MEMORY_STYLE = (
    "{prompt}, highest quality, monochrome, professional sketch, personal, nostalgic, clean"
)
SUBJECT_STYLE = "{prompt}, highest quality, professional sketch, monochrome"
SUBJECT_PROMPT = "portrait of the person, head and shoulders"


def memory_spec(
    *, model: str, prompt: str, avatar: Image.Image, seeds: tuple[int, ...], **overrides
) -> GenerationSpec:
    """A memory illustration: the user's prompt, their avatar as the IP-Adapter reference."""
    values = {
        "steps": 50,
        "negative_prompt": DEFAULT_NEGATIVE_PROMPT,
        "style_template": MEMORY_STYLE,
        "ip_adapter_scale": DEFAULT_IP_ADAPTER_SCALE,
    }
    values.update(overrides)
    return GenerationSpec(
        model=model, prompt=prompt, seeds=seeds, ip_adapter_images=(avatar,), **values
    )


def subject_spec(
    *,
    model: str,
    photo: Image.Image,
    seeds: tuple[int, ...],
    prompt: str = SUBJECT_PROMPT,
    **overrides,
) -> GenerationSpec:
    """A subject illustration: a portrait guided by the user's photo."""
    values = {
        "steps": 50,
        "negative_prompt": DEFAULT_NEGATIVE_PROMPT,
        "style_template": SUBJECT_STYLE,
        "ip_adapter_scale": DEFAULT_IP_ADAPTER_SCALE,
    }
    values.update(overrides)
    return GenerationSpec(
        model=model, prompt=prompt, seeds=seeds, ip_adapter_images=(photo,), **values
    )
