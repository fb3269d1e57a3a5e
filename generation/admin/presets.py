"""Style presets: curated here; the ControlNet weights follow the same rule as a registry import."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from generation.controlnet_weights import controlnet_weights_errors

from ..models import (
    StylePreset,
)


class StylePresetForm(forms.ModelForm):
    class Meta:
        model = StylePreset
        fields = (
            "name", "slug", "enabled", "prompt_template", "negative_prompt", "quality", "steps",
            "scheduler", "ip_adapter_scale", "controlnet_weights",
        )  # fmt: skip

    def clean_controlnet_weights(self):
        value = self.cleaned_data.get("controlnet_weights")
        value = {} if value is None else value
        errors = controlnet_weights_errors(value)
        if errors:
            raise ValidationError(errors)
        return value


@admin.register(StylePreset)
class StylePresetAdmin(admin.ModelAdmin):
    form = StylePresetForm
    list_display = ("name", "slug", "quality", "scheduler", "ip_adapter_scale", "enabled")
    list_filter = ("enabled", "quality", "scheduler")
    search_fields = ("name", "slug", "prompt_template")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "slug", "enabled")}),
        ("Prompt", {"fields": ("prompt_template", "negative_prompt")}),
        ("Sampling", {"fields": ("quality", "steps", "scheduler", "ip_adapter_scale")}),
        (
            "ControlNet",
            {
                "fields": ("controlnet_weights",),
                "description": "Control type (canny, depth, pose, segmentation, normal, "
                'scribble) -> weight 0..2, e.g. {"canny": 0.9, "depth": 0.5}.',
            },
        ),
        ("History", {"fields": ("created_at", "updated_at")}),
    )
