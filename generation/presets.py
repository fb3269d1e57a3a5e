"""Quality presets: the one place that says what draft..ultra and turbo mean."""

from dataclasses import dataclass

from django.conf import settings

# Samplers of few-step distilled models (the engine's gpu_worker.engine.schedulers names them).
FEW_STEP_SCHEDULERS = frozenset({"lcm", "tcd", "euler_trailing"})


@dataclass(frozen=True)
class QualityPreset:
    steps: int
    guidance_scale: float
    scheduler: str | None = None  # None: the style's or the model's
    # Few-step: its jobs also get the distilled LoRA ILLU_TURBO_LORA names, when it is set.
    distilled: bool = False

    @property
    def lora(self) -> str | None:
        """The slug of the LoRA every job of this preset applies (read when a job is made)."""
        return (settings.ILLU_TURBO_LORA or None) if self.distilled else None


QUALITY_PRESETS: dict[str, QualityPreset] = {
    "draft": QualityPreset(steps=12, guidance_scale=4.0),
    "standard": QualityPreset(steps=30, guidance_scale=5.0),
    "high": QualityPreset(steps=40, guidance_scale=6.0),
    "ultra": QualityPreset(steps=50, guidance_scale=7.0),
    # Few-step distilled sampling (LCM, TCD, SDXL-Lightning, Hyper-SD): 4-8 steps, guidance 0-2.
    # The distilled LoRA (LCM-LoRA, SDXL-Lightning, Hyper-SD, TCD), when one is registered and
    # named by ILLU_TURBO_LORA, makes an ordinary SDXL checkpoint sample in these few steps.
    "turbo": QualityPreset(
        steps=settings.ILLU_TURBO_STEPS,
        guidance_scale=settings.ILLU_TURBO_GUIDANCE,
        scheduler=settings.ILLU_TURBO_SCHEDULER,
        distilled=True,
    ),
}
DEFAULT_QUALITY = "standard"
