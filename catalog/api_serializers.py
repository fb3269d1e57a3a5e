"""Serializers of the catalog API: the LoRA registry and the style presets."""

from __future__ import annotations

import math

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.acting import acting_user_field
from core.media import storage_url
from core.serializers import StrictSerializer

from .models import BaseModel, BaseModelFamily, Lora, LoraType, StylePreset

MAX_TRIGGER_WORDS = 50


class FiniteFloatField(serializers.FloatField):
    """A float that is a number: form fields could otherwise smuggle in "nan" or "inf"."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if math.isnan(value) or math.isinf(value):
            self.fail("invalid")
        return value


def trigger_words_field(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=100),
        max_length=MAX_TRIGGER_WORDS,
        help_text="Words that invoke the character or LoRA in a prompt.",
        **kwargs,
    )


# --- LoRA registry ----------------------------------------------------------------------


class LoraSerializer(serializers.ModelSerializer):
    trigger_words = serializers.ListField(child=serializers.CharField())
    preview_url = serializers.SerializerMethodField()

    class Meta:
        model = Lora
        fields = [
            "slug",
            "name",
            "type",
            "base_model",
            "trigger_words",
            "default_weight",
            "min_weight",
            "max_weight",
            "sha256",
            "size_bytes",
            "is_public",
            "enabled",
            "preview_url",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_preview_url(self, lora: Lora) -> str | None:
        return storage_url(lora.preview.name if lora.preview else "", self.context.get("request"))


class FormBooleanField(serializers.BooleanField):
    # In a form body a missing checkbox reads as False; here a missing field means the default.
    default_empty_html = serializers.empty


class LoraRegisterSerializer(StrictSerializer):
    file = serializers.FileField(help_text="A .safetensors LoRA file (nothing else is accepted).")
    slug = serializers.SlugField(max_length=80)
    name = serializers.CharField(max_length=120)
    type = serializers.ChoiceField(choices=LoraType.choices)
    base_model = serializers.ChoiceField(
        choices=BaseModelFamily.choices, default=BaseModelFamily.SDXL
    )
    trigger_words = trigger_words_field(required=False)
    default_weight = FiniteFloatField(min_value=-10, max_value=10, default=0.8)
    min_weight = FiniteFloatField(min_value=-10, max_value=10, default=0.0)
    max_weight = FiniteFloatField(min_value=-10, max_value=10, default=1.5)
    is_public = FormBooleanField(
        default=True, help_text="False: private to the uploader, or to the user named by user_id."
    )
    user_id = acting_user_field()

    def validate(self, attrs):
        # user_id names whom to act for (core.acting reads it); it is no field of a LoRA.
        attrs.pop("user_id", None)
        low, default, high = attrs["min_weight"], attrs["default_weight"], attrs["max_weight"]
        if not low <= default <= high:
            raise serializers.ValidationError(
                {"default_weight": [f"Must lie within min_weight..max_weight ({low}..{high})."]}
            )
        return attrs


class LoraQuerySerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=LoraType.choices, required=False)


class StylePresetSerializer(serializers.ModelSerializer):
    controlnet_weights = serializers.DictField(
        child=serializers.FloatField(), help_text="Control type -> conditioning scale."
    )

    class Meta:
        model = StylePreset
        fields = [
            "slug",
            "name",
            "prompt_template",
            "negative_prompt",
            "quality",
            "steps",
            "scheduler",
            "ip_adapter_scale",
            "controlnet_weights",
            "updated_at",
        ]
        read_only_fields = fields


# --- base models ------------------------------------------------------------------------


class BaseModelSerializer(serializers.ModelSerializer):
    """A base model as users see it (its source is staff-only). ``residency`` in the context:
    slug -> live workers holding it (``catalog.residency.model_residency``)."""

    resident_on = serializers.SerializerMethodField()

    class Meta:
        model = BaseModel
        fields = ["slug", "name", "family", "default_scheduler", "resident_on"]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_resident_on(self, model: BaseModel) -> list[str]:
        """Live GPU workers holding it loaded now."""
        return sorted(self.context.get("residency", {}).get(model.slug, []))
