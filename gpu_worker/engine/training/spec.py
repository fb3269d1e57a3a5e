"""What a training run needs, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidSpec

NAMINGS = ("diffusers", "kohya")


@dataclass(frozen=True)
class TrainingImage:
    image: Any  # PIL.Image
    caption: str
    face_box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 in pixels


@dataclass(frozen=True)
class TrainingSpec:
    model: str  # what diffusers loads: a local diffusers directory or a hub repo id
    images: tuple[TrainingImage, ...]
    rank: int = 16
    alpha: float = 16.0
    learning_rate: float = 1e-4
    steps: int = 1000
    resolution: int = 1024
    batch_size: int = 1
    seed: int = 0
    train_text_encoder: bool = False
    text_encoder_learning_rate: float | None = None  # default: learning_rate / 2
    snr_gamma: float | None = 5.0  # Min-SNR weighting; None for plain MSE
    checkpoint_every: int = 0  # 0: no intermediate checkpoints
    sample_prompts: tuple[str, ...] = ()
    sample_steps: int = 20
    naming: str = "diffusers"
    face_crop: bool = True
    gradient_checkpointing: bool | None = None  # None: on CUDA only
    use_8bit_adam: bool | None = None  # None: when bitsandbytes is importable on CUDA
    extra_manifest: dict = field(default_factory=dict)

    def validate(self) -> None:
        problems = []
        if not self.images:
            problems.append("at least one training image is needed")
        if not 1 <= self.rank <= 256:
            problems.append("rank must be 1..256")
        if self.alpha <= 0:
            problems.append("alpha must be positive")
        if not 0 < self.learning_rate <= 1:
            problems.append("learning_rate must be in (0, 1]")
        if self.steps < 1:
            problems.append("steps must be at least 1")
        if self.resolution < 64 or self.resolution % 64:
            problems.append("resolution must be a multiple of 64, at least 64")
        if self.batch_size < 1:
            problems.append("batch_size must be at least 1")
        if self.checkpoint_every < 0:
            problems.append("checkpoint_every must be 0 or more")
        if self.naming not in NAMINGS:
            problems.append(f"naming must be one of {NAMINGS}")
        if problems:
            raise InvalidSpec("Invalid training spec: " + "; ".join(problems) + ".")
