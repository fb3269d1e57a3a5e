from django.conf import settings
from django.core.files.storage import default_storage
from django.urls import reverse
from rest_framework import serializers

from gpu_worker.engine.schedulers import SCHEDULER_NAMES

from ..models import GeneratedImage, GenerationJob, JobKind, JobPriority
from ..params import MAX_SEED
from ..presets import QUALITY_PRESETS


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know, naming them, instead of silently dropping them."""

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        errors = {name: ["Unknown field."] for name in unknown}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = (
                exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            )
            raise serializers.ValidationError({**detail, **errors})
        if errors:
            raise serializers.ValidationError(errors)
        return value


PROMPTED_KINDS = (JobKind.TEXT, JobKind.MEMORY, JobKind.CHARACTER, JobKind.CONTROL)


def _multiple_of_8(value: int) -> None:
    if value % 8:
        raise serializers.ValidationError(f"Must be a multiple of 8 (got {value}).")


class JobCreateSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=JobKind.choices)
    prompt = serializers.CharField(required=False, trim_whitespace=True)
    negative_prompt = serializers.CharField(required=False, allow_blank=True)
    quality = serializers.ChoiceField(choices=sorted(QUALITY_PRESETS), required=False)
    steps = serializers.IntegerField(min_value=1, max_value=150, required=False)
    guidance_scale = serializers.FloatField(min_value=0, max_value=30, required=False)
    scheduler = serializers.ChoiceField(choices=SCHEDULER_NAMES, required=False)
    width = serializers.IntegerField(
        min_value=256, max_value=2048, required=False, validators=[_multiple_of_8]
    )
    height = serializers.IntegerField(
        min_value=256, max_value=2048, required=False, validators=[_multiple_of_8]
    )
    seed = serializers.IntegerField(
        min_value=0, max_value=MAX_SEED, required=False, allow_null=True
    )
    num_images = serializers.IntegerField(min_value=1, max_value=8, required=False)
    priority = serializers.ChoiceField(choices=JobPriority.choices, required=False)

    def validate_prompt(self, value: str) -> str:
        if len(value) > settings.ILLU_MAX_PROMPT_LENGTH:
            raise serializers.ValidationError(
                f"At most {settings.ILLU_MAX_PROMPT_LENGTH} characters (got {len(value)})."
            )
        return value

    def validate(self, attrs):
        if attrs["kind"] in PROMPTED_KINDS and not attrs.get("prompt"):
            raise serializers.ValidationError(
                {"prompt": [f"A prompt is required for {attrs['kind']} jobs."]}
            )
        return attrs


class ImageSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = GeneratedImage
        fields = ["id", "job", "url", "width", "height", "seed", "created_at", "manifest"]

    def get_url(self, image: GeneratedImage) -> str:
        # Minted per response: presigned on S3, a media URL locally.
        url = default_storage.url(image.file.name)
        request = self.context.get("request")
        if request is not None and url.startswith("/"):
            return request.build_absolute_uri(url)
        return url


class JobSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()
    images = ImageSerializer(many=True, read_only=True)
    conditioning_images = serializers.SerializerMethodField()
    urls = serializers.SerializerMethodField()

    class Meta:
        model = GenerationJob
        fields = [
            "id",
            "kind",
            "status",
            "priority",
            "progress",
            "params",
            "created_at",
            "started_at",
            "finished_at",
            "timings",
            "error",
            "images",
            "conditioning_images",
            "attempts",
            "urls",
        ]

    def get_progress(self, job: GenerationJob) -> dict:
        total = job.params.get("steps", 0)
        step = total if job.status == "succeeded" else 0
        return {"step": step, "total": total, "fraction": step / total if total else 0.0}

    def get_conditioning_images(self, job: GenerationJob) -> list:
        return []

    def get_urls(self, job: GenerationJob) -> dict:
        request = self.context.get("request")
        path = reverse("api:job-detail", args=[job.id])
        return {"self": request.build_absolute_uri(path) if request else path}
