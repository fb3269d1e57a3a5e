"""Plain data in and out of the engine: no Django, no storage, no queues."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from .errors import InvalidSpec

# Called after each denoising step with (step, total); may raise GenerationCancelled.
StepCallback = Callable[[int, int], None]

MAX_IMAGES = 8


@dataclass(frozen=True)
class LoraSpec:
    """One LoRA adapter: a local ``.safetensors`` file (diffusers/peft or kohya naming)."""

    path: str
    weight: float = 1.0
    name: str | None = None  # adapter name; derived from the file's sha256 when None
    trigger_words: tuple[str, ...] = ()


@dataclass(frozen=True)
class ControlSpec:
    """One ControlNet condition.

    ``model`` is a ControlNet directory (single-type ``ControlNetModel`` or SDXL Union; the
    engine reads which from its config). ``kind`` names the condition ("canny", "depth", ...):
    it selects the Union control mode and, with ``preprocess=True``, the preprocessor that turns
    a plain photo into the control image. Without ``preprocess`` the image is used as given.
    """

    image: Image.Image
    model: str
    kind: str = ""
    scale: float = 1.0
    preprocess: bool = False
    guidance_start: float = 0.0
    guidance_end: float = 1.0


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
    # A style template with "{prompt}" where the prompt goes; without it the style is appended.
    style_template: str = ""
    loras: tuple[LoraSpec, ...] = ()
    # IP-Adapter weights file (its image encoder in a sibling image_encoder/ folder); None uses
    # the engine's configured IP-Adapter when reference images are given.
    ip_adapter: str | None = None
    ip_adapter_images: tuple[Image.Image, ...] = ()
    ip_adapter_scale: float = 0.6
    controls: tuple[ControlSpec, ...] = ()

    @property
    def num_images(self) -> int:
        return len(self.seeds)


@dataclass(frozen=True)
class SpecLimits:
    """Bounds the engine accepts. The product range (256..2048) is the API's to enforce; the
    engine also serves the tiny demo/test models, which run at 64 px, so its floor is 64."""

    min_side: int = 64
    max_side: int = 2048
    max_images: int = MAX_IMAGES
    max_steps: int = 150


def resolved_prompt(spec: GenerationSpec) -> str:
    """Apply the style template, then append the LoRA trigger words."""
    prompt = spec.prompt.strip()
    template = spec.style_template.strip()
    if template:
        if "{prompt}" in template:
            prompt = template.replace("{prompt}", prompt)
        else:
            prompt = ", ".join(part for part in (prompt, template) if part)
    triggers = [word for lora in spec.loras for word in lora.trigger_words if word not in prompt]
    return ", ".join([prompt, *dict.fromkeys(triggers)]) if triggers else prompt


def validate_spec(spec: GenerationSpec, limits: SpecLimits = SpecLimits()) -> None:
    """Raise InvalidSpec with a sentence a user can act on; checks only, no loading."""
    for side_name, side in (("width", spec.width), ("height", spec.height)):
        if side % 8 or not limits.min_side <= side <= limits.max_side:
            raise InvalidSpec(
                f"{side_name} must be a multiple of 8 between {limits.min_side} and "
                f"{limits.max_side}; got {side}."
            )
    if not 1 <= spec.num_images <= limits.max_images:
        raise InvalidSpec(f"Ask for 1 to {limits.max_images} images (one seed each).")
    if not 1 <= spec.steps <= limits.max_steps:
        raise InvalidSpec(f"steps must be between 1 and {limits.max_steps}.")
    if spec.guidance_scale < 0:
        raise InvalidSpec("guidance_scale must not be negative.")
    for control in spec.controls:
        if not 0.0 <= control.guidance_start < control.guidance_end <= 1.0:
            raise InvalidSpec("A control's guidance window must satisfy 0 <= start < end <= 1.")


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
    # The control images the ControlNets saw (after preprocessing), in spec.controls order.
    conditioning_images: list[Image.Image] = field(default_factory=list)
