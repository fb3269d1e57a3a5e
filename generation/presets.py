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
    lora: str | None = None  # a LoRA slug the preset always applies (a distilled LoRA)


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
        lora=settings.ILLU_TURBO_LORA or None,
    ),
}
DEFAULT_QUALITY = "standard"
