from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.controlnet_weights import CONTROL_TYPES
from catalog.models import Scheduler
from core.acting import acting_user_field, without_acting_field
from core.media import storage_url
from core.serializers import StrictSerializer
from work.models import WorkStatus
from work.progress import work_progress

from ..models import (
    EDIT_KINDS,
    GeneratedImage,
    GenerationJob,
    JobKind,
    JobPriority,
    JobSource,
    ReviewStatus,
    Upload,
)
from ..params import MAX_SEED
from ..presets import QUALITY_PRESETS
from ..selectors import IMAGE_ORDERINGS, JOB_ORDERINGS
from ..webhook_targets import WebhookTargetRefused, resolve_webhook_target
from ..work_kind import JOBS

__all__ = ["StrictSerializer"]  # re-exported: the jobs' request serializers build on it


PROMPTED_KINDS = (
    JobKind.TEXT,
    JobKind.MEMORY,
    JobKind.CHARACTER,
    JobKind.CONTROL,
    JobKind.IMG2IMG,
    JobKind.INPAINT,
)
MASK_FIELDS = ("mask_upload", "mask_rect", "mask_polygon")
# Request fields that only an editing kind (or only one of them) accepts.
EDIT_ONLY_FIELDS = {
    "source_image": EDIT_KINDS,
    "source_upload": EDIT_KINDS,
    "strength": EDIT_KINDS,
    "mask_upload": (JobKind.INPAINT,),
    "mask_rect": (JobKind.INPAINT,),
    "mask_polygon": (JobKind.INPAINT,),
    "mask_blur": (JobKind.INPAINT,),
    "mask_padding": (JobKind.INPAINT,),
    "scale": (JobKind.UPSCALE,),
    "upscale_method": (JobKind.UPSCALE,),
}


def _multiple_of_8(value: int) -> None:
    if value % 8:
        raise serializers.ValidationError(f"Must be a multiple of 8 (got {value}).")


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
    repair = serializers.BooleanField(
        required=False,
        help_text="Repair the faces of images under the threshold (up to "
        "ILLU_FACE_REPAIR_MAX_PASSES passes) before generating new ones.",
    )


class JobCreateSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=JobKind.choices)
    prompt = serializers.CharField(required=False, trim_whitespace=True)
    negative_prompt = serializers.CharField(required=False, allow_blank=True)
    model = serializers.SlugField(
        required=False,
        help_text="A base model's slug (GET /api/v1/models/); default: the style's model, "
        "else the character's, else the platform default.",
    )
    style = serializers.SlugField(required=False)
    style_prompt = serializers.CharField(
        required=False, max_length=500, help_text="Free style text used instead of the preset's."
    )
    quality = serializers.ChoiceField(choices=sorted(QUALITY_PRESETS), required=False)
    steps = serializers.IntegerField(min_value=1, max_value=150, required=False)
    guidance_scale = serializers.FloatField(min_value=0, max_value=30, required=False)
    scheduler = serializers.ChoiceField(choices=Scheduler.values, required=False)
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
    user_id = acting_user_field()
    source_image = serializers.UUIDField(
        required=False, help_text="Editing kinds: one of your generated images, by id."
    )
    source_upload = serializers.UUIDField(
        required=False, help_text="Editing kinds: one of your uploads, by id."
    )
    strength = serializers.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        help_text="How far to move from the source: 0 returns it, 1 repaints fully.",
    )
    mask_upload = serializers.UUIDField(
        required=False, help_text="inpaint: an upload the source's size; white = repaint."
    )
    mask_rect = serializers.ListField(
        child=serializers.IntegerField(),
        min_length=4,
        max_length=4,
        required=False,
        help_text="inpaint: [x, y, w, h] in source pixels.",
    )
    mask_polygon = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
        min_length=3,
        max_length=256,
        required=False,
        help_text="inpaint: [[x, y], ...] in source pixels, at least 3 points.",
    )
    mask_blur = serializers.IntegerField(required=False, min_value=0, max_value=128)
    mask_padding = serializers.IntegerField(required=False, min_value=0, max_value=256)
    scale = serializers.IntegerField(required=False, help_text="upscale: 2 or 4.")
    upscale_method = serializers.ChoiceField(
        choices=["tiled", "lanczos"],
        required=False,
        help_text="upscale: tiled SDXL img2img (default) or Lanczos alone.",
    )

    def validate_scale(self, value: int) -> int:
        if value not in (2, 4):
            raise serializers.ValidationError(f"Must be 2 or 4 (got {value}).")
        return value

    @classmethod
    def for_body(cls, data, *, kind: str | None = None) -> JobCreateSerializer:
        """The serializer of a create request's body. Its ``user_id`` names the user to act
        for (core.acting reads it), no job parameter, so it is left out; a ``kind`` fixed by
        the endpoint (the replaced service's ones) wins over the body's."""
        body = without_acting_field(data)
        if kind is not None:
            body["kind"] = kind
        return cls(data=body)

    def validate_prompt(self, value: str) -> str:
        if len(value) > settings.ILLU_MAX_PROMPT_LENGTH:
            raise serializers.ValidationError(
                f"At most {settings.ILLU_MAX_PROMPT_LENGTH} characters (got {len(value)})."
            )
        return value

    def validate_negative_prompt(self, value: str) -> str:
        return self.validate_prompt(value)

    def validate_webhook(self, value: str) -> str:
        try:
            resolve_webhook_target(value)
        except WebhookTargetRefused as exc:
            raise serializers.ValidationError(str(exc))
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
        self._validate_edit_fields(attrs)
        if attrs.get("webhook_events") and not attrs.get("webhook"):
            raise serializers.ValidationError({"webhook": ["Required with webhook_events."]})
        return attrs

    @staticmethod
    def _validate_edit_fields(attrs) -> None:
        kind = attrs["kind"]
        errors = {
            name: [f"Only for {', '.join(kinds)} jobs."]
            for name, kinds in EDIT_ONLY_FIELDS.items()
            if name in attrs and kind not in kinds
        }
        if kind in EDIT_KINDS:
            if "source_image" in attrs and "source_upload" in attrs:
                errors["source_upload"] = ["Give source_image or source_upload, not both."]
            elif "source_image" not in attrs and "source_upload" not in attrs:
                errors["source_image"] = [f"{kind} jobs need source_image or source_upload."]
            for name in ("width", "height"):
                if name in attrs:
                    errors[name] = ["The output size follows the source (times scale)."]
        if kind == JobKind.INPAINT:
            given = [name for name in MASK_FIELDS if name in attrs]
            if len(given) > 1:
                errors[given[-1]] = [f"Give one of {', '.join(MASK_FIELDS)}, not several."]
            elif not given:
                errors["mask_upload"] = [
                    "inpaint jobs need mask_upload, mask_rect or mask_polygon."
                ]
        if "control" in attrs and kind in (JobKind.UPSCALE, JobKind.FACE_REPAIR):
            errors["control"] = [f"Not used by {kind} jobs."]
        if errors:
            raise serializers.ValidationError(errors)


class GeneratedImageSerializer(serializers.ModelSerializer):
    """The image resource of API.md; the job resource can embed it as ``images``."""

    job = serializers.UUIDField(source="job_id", read_only=True)
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    manifest = serializers.DictField(
        read_only=True, help_text="Everything needed to reproduce the image."
    )

    class Meta:
        model = GeneratedImage
        fields = [
            "id",
            "job",
            "index",
            "url",
            "thumbnail_url",
            "width",
            "height",
            "seed",
            "consistency_score",
            "accepted",
            "review_status",
            "created_at",
            "manifest",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "format": "uri"})
    def get_url(self, image: GeneratedImage) -> str | None:
        return storage_url(image.file.name, self.context.get("request"))

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_thumbnail_url(self, image: GeneratedImage) -> str | None:
        return storage_url(image.thumbnail.name, self.context.get("request"))


class ImageQuerySerializer(serializers.Serializer):
    job = serializers.UUIDField(required=False, help_text="Only images of this job.")
    character = serializers.UUIDField(required=False, help_text="Only images of this character.")
    accepted = serializers.BooleanField(required=False, help_text="Only (not) accepted images.")
    review_status = serializers.ChoiceField(choices=ReviewStatus.choices, required=False)
    ordering = serializers.ChoiceField(choices=list(IMAGE_ORDERINGS), default="-created_at")


class UploadSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Upload
        fields = ["id", "url", "width", "height", "created_at"]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "format": "uri"})
    def get_url(self, upload: Upload) -> str:
        return storage_url(upload.image.name, self.context.get("request"))


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
    worker = serializers.CharField(
        source="worker_name", read_only=True, help_text="The GPU worker that ran (runs) the job."
    )
    timings = serializers.SerializerMethodField()
    queue = serializers.SerializerMethodField()
    images = GeneratedImageSerializer(many=True, read_only=True)
    conditioning_images = serializers.SerializerMethodField()
    urls = serializers.SerializerMethodField()

    class Meta:
        model = GenerationJob
        fields = [
            "id", "kind", "status", "priority", "source", "source_user", "progress", "queue",
            "params", "created_at",
            "started_at", "finished_at", "worker", "timings", "gpu_ms", "error", "images",
            "conditioning_images", "attempts", "generated_count", "accepted_count", "urls",
        ]  # fmt: skip

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, job: GenerationJob) -> dict:
        return work_progress(JOBS, job)

    @extend_schema_field(serializers.DictField())
    def get_timings(self, job: GenerationJob) -> dict:
        """Milliseconds per stage; ``model_load_ms`` (0: the model was resident) once run. A
        worker that predates it reported the model load as ``load_ms``."""
        timings = dict(job.timings or {})
        if timings and "model_load_ms" not in timings and "load_ms" in timings:
            timings["model_load_ms"] = timings["load_ms"]
        return timings

    @extend_schema_field(QueueStateSerializer(allow_null=True))
    def get_queue(self, job: GenerationJob) -> dict | None:
        """Position and estimated start while queued, from the scheduler's own order."""
        if job.status != WorkStatus.QUEUED:
            return None
        from ..queue.position import current_estimates, queue_state

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


class JobQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=WorkStatus.choices, required=False)
    kind = serializers.ChoiceField(choices=JobKind.choices, required=False)
    source = serializers.ChoiceField(
        choices=JobSource.choices, required=False, help_text="The API the job came through."
    )
    character = serializers.UUIDField(required=False)
    ordering = serializers.ChoiceField(choices=list(JOB_ORDERINGS), required=False)


class BulkDeleteSerializer(StrictSerializer):
    ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=1000)
    status = serializers.ChoiceField(choices=WorkStatus.choices, required=False)
    before = serializers.DateTimeField(required=False)
    user_id = acting_user_field()

    def validate(self, attrs):
        attrs.pop("user_id", None)  # whose jobs (core.acting reads it), no criterion
        if not attrs.get("ids") and not attrs.get("status") and not attrs.get("before"):
            raise serializers.ValidationError(
                {"ids": ["Give ids, or a status and/or before time, to choose what to delete."]}
            )
        return attrs
