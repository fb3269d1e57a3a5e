"""Quality presets: the one place that says what draft..ultra mean."""

from dataclasses import dataclass


@dataclass(frozen=True)
class QualityPreset:
    steps: int
    guidance_scale: float


QUALITY_PRESETS: dict[str, QualityPreset] = {
    "draft": QualityPreset(steps=12, guidance_scale=4.0),
    "standard": QualityPreset(steps=30, guidance_scale=5.0),
    "high": QualityPreset(steps=40, guidance_scale=6.0),
    "ultra": QualityPreset(steps=50, guidance_scale=7.0),
    # Few-step distilled sampling (LCM, TCD, SDXL-Lightning, Hyper-SD): 4-8 steps, guidance 0-2.
    "turbo": QualityPreset(steps=6, guidance_scale=1.0),
}
DEFAULT_QUALITY = "standard"
