"""Plain data in and out of the engine: no Django, no storage, no queues."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

# Called after each denoising step with (step, total); may raise GenerationCancelled.
StepCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class GenerationSpec:
    """Everything the engine needs to produce a batch of images, fully resolved."""

    model: str
    prompt: str
    seeds: tuple[int, ...]
    negative_prompt: str = ""
    width: int = 1024
    height: int = 1024
    steps: int = 30
    guidance_scale: float = 5.0
    scheduler: str | None = None

    @property
    def num_images(self) -> int:
        return len(self.seeds)


@dataclass
class ImageOutput:
    image: Image.Image
    seed: int
    manifest: dict[str, Any]


@dataclass
class GenerationResult:
    images: list[ImageOutput]
    load_ms: int
    inference_ms: int
    extra: dict[str, Any] = field(default_factory=dict)
