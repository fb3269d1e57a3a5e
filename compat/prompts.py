"""AUTOMATIC1111's prompt syntax for LoRAs: ``<lora:name:weight>`` (``<lora:name>`` means
weight 1; ``<lora:name:te:unet>`` takes the first weight, the platform having one per LoRA).
The tags become the job's LoRAs and leave the text."""

from __future__ import annotations

import re
from dataclasses import dataclass

_LORA_TAG = re.compile(r"<lora:([^:>]+)(?::([^:>]*))?(?::[^>]*)?>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t]{2,}")
_LOOSE_COMMAS = re.compile(r"\s*,(\s*,)*")
DEFAULT_WEIGHT = 1.0


class BadLoraTag(ValueError):
    pass


@dataclass(frozen=True)
class LoraTag:
    name: str
    weight: float


def split_lora_tags(prompt: str) -> tuple[str, list[LoraTag]]:
    """The prompt without its LoRA tags (spaces and commas tidied where tags were), and the
    tags in order; a LoRA named twice keeps its last weight. Raises BadLoraTag for a weight
    that is no number."""
    tags: dict[str, LoraTag] = {}

    def take(match: re.Match) -> str:
        name, weight = match.group(1).strip(), (match.group(2) or "").strip()
        try:
            value = float(weight) if weight else DEFAULT_WEIGHT
        except ValueError:
            raise BadLoraTag(f"The weight in {match.group(0)!r} is not a number.")
        tags.pop(name, None)
        tags[name] = LoraTag(name=name, weight=value)
        return ""

    text = _LORA_TAG.sub(take, prompt)
    if not tags:
        return prompt, []
    text = _LOOSE_COMMAS.sub(",", _SPACES.sub(" ", text)).strip().strip(",").strip()
    return text, list(tags.values())
