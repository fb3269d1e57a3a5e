"""Serializers of the characters API: characters and their references."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api_serializers import FaceSerializer, face_block
from catalog.api_serializers import trigger_words_field
from catalog.models import BaseModel, StylePreset
from catalog.selectors import loras_visible_to
from core.acting import acting_user_field
from core.media import storage_url
from core.serializers import StrictSerializer

from .models import Character, ReferenceImage

MAX_SCENE_PRESETS = 50


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
    model = serializers.SlugRelatedField(
        source="base_model", slug_field="slug", read_only=True, allow_null=True
    )
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
            "model",
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
        queryset=StylePreset.objects.filter(enabled=True),
        allow_null=True,
        required=False,
        help_text="An enabled style preset's slug, or null.",
    )
    model = serializers.SlugRelatedField(
        source="base_model",
        slug_field="slug",
        queryset=BaseModel.objects.filter(enabled=True),
        allow_null=True,
        required=False,
        help_text="An enabled base model's slug its jobs use unless they name one, or null.",
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
