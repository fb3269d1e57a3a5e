from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gpu_worker.engine.schedulers import SCHEDULER_NAMES
from illuplatform.serializers import StrictSerializer

from ..models import GenerationJob, JobKind, JobPriority
from ..params import MAX_SEED
from ..presets import QUALITY_PRESETS
from ..signals_redis import read_progress
from ..webhooks import webhook_url_allowed
from .images import GeneratedImageSerializer, storage_url

__all__ = ["StrictSerializer"]  # re-exported: the jobs' request serializers build on it


PROMPTED_KINDS = (JobKind.TEXT, JobKind.MEMORY, JobKind.CHARACTER, JobKind.CONTROL)


def _multiple_of_8(value: int) -> None:
    if value % 8:
        raise serializers.ValidationError(f"Must be a multiple of 8 (got {value}).")


CONTROL_TYPES = ("canny", "depth", "pose", "segmentation", "normal", "scribble")
WEBHOOK_EVENTS = ("start", "progress", "completed")


class LoraChoiceSerializer(StrictSerializer):
    lora = serializers.SlugField()
    weight = serializers.FloatField(required=False, min_value=-5, max_value=5)


class ControlSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=CONTROL_TYPES)
    image = serializers.UUIDField()
    scale = serializers.FloatField(required=False, min_value=0, max_value=2)
    preprocess = serializers.BooleanField(required=False)


class ConsistencySerializer(StrictSerializer):
    threshold = serializers.FloatField(required=False, min_value=0, max_value=1)
    min_accepted = serializers.IntegerField(required=False, min_value=1, max_value=8)
    max_attempts = serializers.IntegerField(required=False, min_value=1, max_value=32)


class JobCreateSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=JobKind.choices)
    prompt = serializers.CharField(required=False, trim_whitespace=True)
    negative_prompt = serializers.CharField(required=False, allow_blank=True)
    style = serializers.SlugField(required=False)
    style_prompt = serializers.CharField(
        required=False, max_length=500, help_text="Free style text used instead of the preset's."
    )
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
    avatar = serializers.UUIDField(required=False)
    ip_adapter_scale = serializers.FloatField(min_value=0, max_value=1, required=False)
    character = serializers.UUIDField(required=False)
    loras = LoraChoiceSerializer(many=True, required=False)
    control = ControlSerializer(required=False)
    consistency = ConsistencySerializer(required=False)
    priority = serializers.ChoiceField(choices=JobPriority.choices, required=False)
    cancel_after = serializers.IntegerField(min_value=1, max_value=7 * 24 * 3600, required=False)
    webhook = serializers.URLField(required=False, max_length=500)
    webhook_events = serializers.ListField(
        child=serializers.ChoiceField(choices=WEBHOOK_EVENTS), required=False, allow_empty=False
    )
    user_id = serializers.CharField(required=False)

    def validate_prompt(self, value: str) -> str:
        if len(value) > settings.ILLU_MAX_PROMPT_LENGTH:
            raise serializers.ValidationError(
                f"At most {settings.ILLU_MAX_PROMPT_LENGTH} characters (got {len(value)})."
            )
        return value

    def validate_negative_prompt(self, value: str) -> str:
        return self.validate_prompt(value)

    def validate_webhook(self, value: str) -> str:
        if not webhook_url_allowed(value):
            raise serializers.ValidationError(
                "Webhooks must use https (plain http only to loopback in DEBUG)."
            )
        return value

    def validate(self, attrs):
        if attrs["kind"] in PROMPTED_KINDS and not attrs.get("prompt"):
            raise serializers.ValidationError(
                {"prompt": [f"A prompt is required for {attrs['kind']} jobs."]}
            )
        if attrs["kind"] == JobKind.CHARACTER and not attrs.get("character"):
            raise serializers.ValidationError({"character": ["Required for character jobs."]})
        if attrs["kind"] == JobKind.CONTROL and not attrs.get("control"):
            raise serializers.ValidationError({"control": ["Required for control jobs."]})
        if attrs.get("webhook_events") and not attrs.get("webhook"):
            raise serializers.ValidationError({"webhook": ["Required with webhook_events."]})
        return attrs


class ProgressSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    total = serializers.IntegerField()
    fraction = serializers.FloatField()
    preview = serializers.CharField(
        required=False, help_text="While running: a small preview of the latents (data URL)."
    )
    preview_step = serializers.IntegerField(required=False)


class QueueStateSerializer(serializers.Serializer):
    position = serializers.IntegerField(
        allow_null=True, help_text="1: starts next (jobs of one batch share a position)."
    )
    batches_ahead = serializers.IntegerField(allow_null=True)
    estimated_start = serializers.DateTimeField()


class ConditioningImageSerializer(serializers.Serializer):
    type = serializers.CharField()
    url = serializers.URLField()


class JobLinksSerializer(serializers.Serializer):
    self = serializers.URLField()
    events = serializers.URLField()
    cancel = serializers.URLField()


class JobSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()
    queue = serializers.SerializerMethodField()
    images = GeneratedImageSerializer(many=True, read_only=True)
    conditioning_images = serializers.SerializerMethodField()
    urls = serializers.SerializerMethodField()

    class Meta:
        model = GenerationJob
        fields = [
            "id", "kind", "status", "priority", "progress", "queue", "params", "created_at",
            "started_at", "finished_at", "timings", "error", "images",
            "conditioning_images", "attempts", "generated_count", "accepted_count", "urls",
        ]  # fmt: skip

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, job: GenerationJob) -> dict:
        total = job.params.get("steps", 0)
        if job.status == "succeeded":
            return {"step": total, "total": total, "fraction": 1.0}
        if job.status == "running":
            live = read_progress(str(job.id))
            if live and "step" in live:
                keys = ("step", "total", "fraction", "preview", "preview_step")
                return {key: live[key] for key in keys if key in live}
        return {"step": 0, "total": total, "fraction": 0.0}

    @extend_schema_field(QueueStateSerializer(allow_null=True))
    def get_queue(self, job: GenerationJob) -> dict | None:
        """Position and estimated start while queued, from the scheduler's own order."""
        if job.status != "queued":
            return None
        from gpu_worker.serving.queue_info import current_estimates, queue_state

        if "queue_estimates" not in self.context:  # once per response, not per job
            self.context["queue_estimates"] = current_estimates()
        state = queue_state(job, self.context["queue_estimates"])
        return QueueStateSerializer(state).data

    @extend_schema_field(ConditioningImageSerializer(many=True))
    def get_conditioning_images(self, job: GenerationJob) -> list[dict]:
        request = self.context.get("request")
        return [
            {"type": item["type"], "url": storage_url(item["key"], request)}
            for item in job.conditioning or []
        ]

    @extend_schema_field(JobLinksSerializer)
    def get_urls(self, job: GenerationJob) -> dict:
        request = self.context.get("request")

        def link(name: str) -> str:
            path = reverse(f"api:{name}", args=[job.id])
            return request.build_absolute_uri(path) if request else path

        return {
            "self": link("job-detail"),
            "events": link("job-events"),
            "cancel": link("job-cancel"),
        }
