"""Training request and resource serializers."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import LoraType
from core.acting import acting_user_field
from core.media import storage_url
from core.serializers import StrictSerializer
from generation.params import MAX_SEED
from work.progress import work_progress

from ..models import TrainingRun
from ..work_kind import TRAININGS

TRIGGER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_ -]{0,63}$"


def _multiple_of_64(value: int) -> None:
    if value % 64:
        raise serializers.ValidationError(f"Must be a multiple of 64 (got {value}).")


def _max_steps(value: int) -> None:
    if value > settings.ILLU_TRAINING_MAX_STEPS:
        raise serializers.ValidationError(
            f"At most {settings.ILLU_TRAINING_MAX_STEPS} steps (got {value})."
        )


class TrainingCreateSerializer(StrictSerializer):
    character = serializers.UUIDField(
        required=False, help_text="Train on this character's reference images."
    )
    images = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        min_length=1,
        max_length=200,
        help_text="Or train on these upload ids (e.g. a style set).",
    )
    captions = serializers.ListField(
        child=serializers.CharField(max_length=500),
        required=False,
        help_text="One caption per image; default: caption_template.",
    )
    caption_template = serializers.CharField(
        required=False,
        max_length=500,
        help_text="Caption of every image; {trigger} becomes the trigger word.",
    )
    trigger_word = serializers.RegexField(TRIGGER_PATTERN, max_length=64)
    name = serializers.CharField(required=False, max_length=120)
    lora_type = serializers.ChoiceField(choices=LoraType.choices, required=False)
    rank = serializers.IntegerField(required=False, min_value=1, max_value=128)
    alpha = serializers.FloatField(required=False, min_value=0.01, max_value=256)
    learning_rate = serializers.FloatField(required=False, min_value=1e-7, max_value=1e-1)
    steps = serializers.IntegerField(required=False, min_value=1, validators=[_max_steps])
    resolution = serializers.IntegerField(
        required=False, min_value=64, max_value=2048, validators=[_multiple_of_64]
    )
    batch_size = serializers.IntegerField(required=False, min_value=1, max_value=8)
    seed = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_SEED, allow_null=True
    )
    train_text_encoder = serializers.BooleanField(required=False)
    snr_gamma = serializers.FloatField(required=False, min_value=0.1, max_value=20, allow_null=True)
    checkpoint_every = serializers.IntegerField(required=False, min_value=0, max_value=100000)
    sample_prompts = serializers.ListField(
        child=serializers.CharField(max_length=500), required=False, max_length=4
    )
    naming = serializers.ChoiceField(
        choices=["diffusers", "kohya"],
        required=False,
        help_text="Tensor names of the file: diffusers/peft (default) or kohya (lora_unet_...).",
    )
    attach_to_character = serializers.BooleanField(
        required=False, help_text="Add the trained LoRA to the character's default LoRAs."
    )
    user_id = acting_user_field()

    def validate(self, attrs):
        attrs.pop("user_id", None)  # whose run (core.acting reads it), no training parameter
        if not attrs.get("character") and not attrs.get("images"):
            raise serializers.ValidationError(
                {"character": ["Give a character, or images (upload ids)."]}
            )
        if attrs.get("character") and attrs.get("images"):
            raise serializers.ValidationError({"images": ["Give a character or images, not both."]})
        template = attrs.get("caption_template")
        if template is not None and "{trigger}" not in template:
            raise serializers.ValidationError(
                {"caption_template": ["Must contain {trigger}, where the trigger word goes."]}
            )
        if attrs.get("captions") is not None and attrs.get("caption_template"):
            raise serializers.ValidationError(
                {"captions": ["Give captions or a caption_template, not both."]}
            )
        return attrs


class TrainingProgressSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    total = serializers.IntegerField()
    fraction = serializers.FloatField()
    loss = serializers.FloatField(allow_null=True)
    eta_s = serializers.FloatField(allow_null=True)
    paused = serializers.BooleanField(
        help_text="Waiting in the queue after giving way to image jobs; resumes from `step`."
    )


class TrainingSampleSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    prompt = serializers.CharField()
    url = serializers.URLField()


class TrainingLinksSerializer(serializers.Serializer):
    self = serializers.URLField()
    events = serializers.URLField()
    cancel = serializers.URLField()


class TrainingSerializer(serializers.ModelSerializer):
    character = serializers.UUIDField(source="character_id", read_only=True, allow_null=True)
    progress = serializers.SerializerMethodField()
    lora = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    samples = serializers.SerializerMethodField()
    urls = serializers.SerializerMethodField()
    manifest = serializers.DictField(read_only=True, allow_null=True)

    class Meta:
        model = TrainingRun
        fields = [
            "id", "status", "progress", "lora", "error", "name", "lora_type", "trigger_word",
            "character", "images", "params", "attach_to_character", "attempts",
            "checkpoint_step", "initial_loss", "final_loss", "loss_history", "samples",
            "manifest", "created_at", "started_at", "finished_at", "urls",
        ]  # fmt: skip

    @extend_schema_field(TrainingProgressSerializer)
    def get_progress(self, run: TrainingRun) -> dict:
        return work_progress(TRAININGS, run)

    @extend_schema_field(TrainingSampleSerializer(many=True))
    def get_samples(self, run: TrainingRun) -> list[dict]:
        request = self.context.get("request")
        return [
            {
                "step": item["step"],
                "prompt": item["prompt"],
                "url": storage_url(item["key"], request),
            }
            for item in run.samples
        ]

    @extend_schema_field(TrainingLinksSerializer)
    def get_urls(self, run: TrainingRun) -> dict:
        request = self.context.get("request")

        def link(name: str) -> str:
            path = reverse(f"api:{name}", args=[run.id])
            return request.build_absolute_uri(path) if request else path

        return {
            "self": link("training-detail"),
            "events": link("training-events"),
            "cancel": link("training-cancel"),
        }
