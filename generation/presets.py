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
}
DEFAULT_QUALITY = "standard"
