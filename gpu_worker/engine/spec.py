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

# Engine modes: "text" draws from noise; the editing modes start from ``GenerationSpec.source``.
MODES = ("text", "img2img", "inpaint", "upscale", "face_repair")
EDIT_MODES = ("img2img", "inpaint", "upscale", "face_repair")
UPSCALE_METHODS = ("tiled", "lanczos")
# A face box (x0, y0, x1, y1) in source pixels.
Box = tuple[int, int, int, int]


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
    # Editing modes (plain data): the source image, a mask (L, 255 = repaint) for inpaint,
    # how far to move away from the source (0 returns it), and the upscale/face settings.
    # For editing modes width/height are the output size: the source's (times ``scale``).
    mode: str = "text"
    source: Image.Image | None = None
    mask: Image.Image | None = None
    strength: float = 0.75
    mask_blur: int = 8
    mask_padding: int = 32
    scale: int = 2
    upscale_method: str = "tiled"
    tile_size: int = 1024
    tile_overlap: int = 128
    face_boxes: tuple[Box, ...] = ()
    face_context: float = 0.6  # crop margin around a face, as a fraction of its size per side
    repair_size: int = 1024  # the side a face crop is inpainted at

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
    max_upscale_side: int = 4096


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
    if spec.mode not in MODES:
        raise InvalidSpec(f"Unknown mode {spec.mode!r}; one of {', '.join(MODES)}.")
    if spec.mode in EDIT_MODES:
        _validate_edit(spec, limits)
    else:
        _validate_size(spec, limits)
    _validate_common(spec, limits)


def _validate_edit(spec: GenerationSpec, limits: SpecLimits) -> None:
    if spec.source is None:
        raise InvalidSpec(f"The {spec.mode} mode needs a source image.")
    if not 0.0 <= spec.strength <= 1.0:
        raise InvalidSpec(f"strength must be between 0 and 1; got {spec.strength}.")
    source_w, source_h = spec.source.size
    if min(source_w, source_h) < 8 or max(source_w, source_h) > limits.max_side:
        raise InvalidSpec(
            f"The source must be at most {limits.max_side} px a side; got {source_w}x{source_h}."
        )
    if spec.controls and spec.mode not in ("img2img", "inpaint"):
        raise InvalidSpec(f"ControlNet controls are used by img2img and inpaint, not {spec.mode}.")
    factor = spec.scale if spec.mode == "upscale" else 1
    if spec.mode == "upscale":
        if spec.scale not in (2, 4):
            raise InvalidSpec(f"scale must be 2 or 4; got {spec.scale}.")
        if spec.upscale_method not in UPSCALE_METHODS:
            raise InvalidSpec(f"upscale_method must be one of {', '.join(UPSCALE_METHODS)}.")
        if max(source_w, source_h) * factor > limits.max_upscale_side:
            raise InvalidSpec(
                f"An upscale may produce at most {limits.max_upscale_side} px a side; "
                f"{source_w}x{source_h} times {factor} is more."
            )
        if not 0 <= spec.tile_overlap < spec.tile_size // 2 or spec.tile_size % 8:
            raise InvalidSpec("tile_size must be a multiple of 8 and over twice tile_overlap.")
    if (spec.width, spec.height) != (source_w * factor, source_h * factor):
        raise InvalidSpec(
            f"An {spec.mode} output is the source's size"
            + (f" times {factor}" if factor > 1 else "")
            + f": {source_w * factor}x{source_h * factor}, not {spec.width}x{spec.height}."
        )
    if spec.mode == "inpaint":
        if spec.mask is None:
            raise InvalidSpec("The inpaint mode needs a mask.")
        if spec.mask.size != spec.source.size:
            raise InvalidSpec(
                f"The mask is {spec.mask.width}x{spec.mask.height}; the source is "
                f"{source_w}x{source_h}. They must be the same size."
            )
        if spec.mask_blur < 0 or spec.mask_padding < 0:
            raise InvalidSpec("mask_blur and mask_padding must not be negative.")
    if spec.mode == "face_repair":
        if not spec.face_boxes:
            raise InvalidSpec("No face was found in the source image; nothing to repair.")
        if spec.repair_size % 8 or not limits.min_side <= spec.repair_size <= limits.max_side:
            raise InvalidSpec(f"repair_size must be a multiple of 8 up to {limits.max_side}.")


def _validate_size(spec: GenerationSpec, limits: SpecLimits) -> None:
    for side_name, side in (("width", spec.width), ("height", spec.height)):
        if side % 8 or not limits.min_side <= side <= limits.max_side:
            raise InvalidSpec(
                f"{side_name} must be a multiple of 8 between {limits.min_side} and "
                f"{limits.max_side}; got {side}."
            )


def _validate_common(spec: GenerationSpec, limits: SpecLimits) -> None:
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
