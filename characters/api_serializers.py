"""Serializers of the characters API: characters, references and the LoRA registry."""

from __future__ import annotations

import math

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api_serializers import FaceSerializer, face_block
from core.media import storage_url
from core.serializers import StrictSerializer, acting_user_field

from .models import BaseModelFamily, Character, Lora, LoraType, ReferenceImage
from .selectors import loras_visible_to

MAX_TRIGGER_WORDS = 50
MAX_SCENE_PRESETS = 50


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


# --- references -------------------------------------------------------------------------


class ReferenceSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    face = serializers.SerializerMethodField()

    class Meta:
        model = ReferenceImage
        fields = ["id", "url", "width", "height", "face", "created_at"]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "format": "uri"})
    def get_url(self, reference: ReferenceImage) -> str:
        return storage_url(reference.image.name, self.context.get("request"))

    @extend_schema_field(FaceSerializer)
    def get_face(self, reference: ReferenceImage) -> dict:
        # References keep no detector score, only the face count.
        return face_block(count=reference.face_count, score=None)


# --- characters -------------------------------------------------------------------------


class CharacterLoraSerializer(StrictSerializer):
    lora = serializers.SlugField(max_length=80, help_text="A registry LoRA's slug.")
    weight = serializers.FloatField(
        required=False, help_text="Default: the LoRA's default weight; within its range."
    )


class CharacterSerializer(serializers.ModelSerializer):
    trigger_words = serializers.ListField(child=serializers.CharField())
    default_loras = serializers.SerializerMethodField()
    style = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    scene_presets = serializers.DictField(
        child=serializers.CharField(), help_text="Scene name -> prompt fragment."
    )
    references = ReferenceSerializer(many=True, read_only=True)

    class Meta:
        model = Character
        fields = [
            "id",
            "name",
            "description",
            "trigger_words",
            "default_loras",
            "style",
            "consistency_threshold",
            "scene_presets",
            "references",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(CharacterLoraSerializer(many=True))
    def get_default_loras(self, character: Character) -> list[dict]:
        return [
            {"lora": link.lora.slug, "weight": link.weight} for link in character.lora_links.all()
        ]


class CharacterWriteSerializer(StrictSerializer):
    """The body of POST (all but ``name`` optional) and PATCH (everything optional).
    Context: ``owner`` (the acting user) and, for PATCH, ``character``."""

    name = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=5000, allow_blank=True, required=False)
    trigger_words = trigger_words_field(required=False)
    default_loras = serializers.ListField(
        child=CharacterLoraSerializer(), max_length=20, required=False
    )
    style = serializers.SlugRelatedField(
        slug_field="slug",
        # The style FK names generation.StylePreset lazily (by string); taking the model from the
        # field keeps this app from importing the generation app above it.
        queryset=Character._meta.get_field("style").related_model.objects.filter(enabled=True),
        allow_null=True,
        required=False,
        help_text="An enabled style preset's slug, or null.",
    )
    consistency_threshold = serializers.FloatField(min_value=0.0, max_value=1.0, required=False)
    scene_presets = serializers.DictField(
        child=serializers.CharField(max_length=settings.ILLU_MAX_PROMPT_LENGTH, allow_blank=True),
        required=False,
        help_text=f"Scene name (at most 80 characters) -> prompt fragment; "
        f"at most {MAX_SCENE_PRESETS} scenes.",
    )
    user_id = acting_user_field()

    def validate(self, attrs):
        # user_id names whom to act for (core.acting reads it); it is no field of a character.
        attrs.pop("user_id", None)
        return attrs

    def validate_name(self, name: str) -> str:
        others = Character.objects.filter(owner=self.context["owner"], name=name)
        if self.context.get("character") is not None:
            others = others.exclude(pk=self.context["character"].pk)
        if others.exists():
            raise serializers.ValidationError("You already have a character with this name.")
        return name

    def validate_scene_presets(self, scenes: dict) -> dict:
        if len(scenes) > MAX_SCENE_PRESETS:
            raise serializers.ValidationError(f"At most {MAX_SCENE_PRESETS} scenes.")
        for key in scenes:
            if not key.strip() or len(key) > 80 or "\x00" in key:
                raise serializers.ValidationError(
                    f"Scene names must be 1 to 80 characters without NUL (got {key[:80]!r})."
                )
        return scenes

    def validate_default_loras(self, items: list[dict]) -> list[dict]:
        # Checked against what the owner may see: a private LoRA of another user is as unknown
        # as one that does not exist. Every bad item is reported, not only the first.
        slugs = [item["lora"] for item in items]
        visible = {
            lora.slug: lora
            for lora in loras_visible_to(user=self.context["owner"]).filter(slug__in=slugs)
        }
        errors, seen = {}, set()
        for position, item in enumerate(items):
            lora = visible.get(item["lora"])
            if lora is None:
                errors[f"{position}.lora"] = [f"Unknown or disabled LoRA {item['lora']!r}."]
            elif item["lora"] in seen:
                errors[f"{position}.lora"] = [f"LoRA {item['lora']!r} is listed twice."]
            elif not lora.min_weight <= item.get("weight", lora.default_weight) <= lora.max_weight:
                errors[f"{position}.weight"] = [
                    f"Outside LoRA {lora.slug!r}'s range {lora.min_weight}..{lora.max_weight}."
                ]
            seen.add(item["lora"])
        if errors:
            raise serializers.ValidationError(errors)
        return items


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
