import uuid

from django.conf import settings
from django.db import models

from catalog.models import StylePreset
from work.models import Work


class JobKind(models.TextChoices):
    TEXT = "text"
    MEMORY = "memory"
    SUBJECT = "subject"
    CHARACTER = "character"
    CONTROL = "control"
    IMG2IMG = "img2img"
    INPAINT = "inpaint"
    UPSCALE = "upscale"
    FACE_REPAIR = "face_repair"


# Kinds that start from an existing image (``source_image`` or ``source_upload``).
EDIT_KINDS = (JobKind.IMG2IMG, JobKind.INPAINT, JobKind.UPSCALE, JobKind.FACE_REPAIR)


class JobSource(models.TextChoices):
    """Which API a job came in through: the platform's own, or a compatibility API."""

    API = "api", "Platform API"
    OPENAI = "openai", "OpenAI Images API"
    A1111 = "a1111", "AUTOMATIC1111 API"


class JobPriority(models.TextChoices):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class GenerationJob(Work):
    """A request for images: the source of truth for a job; Redis only carries its id to a
    worker. Its lifecycle (claim, finish, retry, cancel) is ``work.lifecycle``'s, with the
    hooks of ``generation.work_kind.JOBS``."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generation_jobs"
    )
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    priority = models.CharField(
        max_length=8, choices=JobPriority.choices, default=JobPriority.NORMAL
    )
    source = models.CharField(
        max_length=16, choices=JobSource.choices, default=JobSource.API, db_index=True
    )
    source_user = models.CharField(
        max_length=200, blank=True, help_text="The end user a client named (OpenAI's `user`)."
    )
    params = models.JSONField(default=dict, help_text="Every resolved parameter, seeds included.")
    style = models.ForeignKey(
        StylePreset, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    character = models.ForeignKey(
        "characters.Character",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="jobs",
    )
    avatar = models.ForeignKey(
        "accounts.Avatar", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    timings = models.JSONField(default=dict, blank=True)
    gpu_ms = models.PositiveBigIntegerField(
        default=0,
        help_text="Engine time its images took: a shared pass's time split by image count.",
    )
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    webhook_url = models.URLField(max_length=500, blank=True)
    webhook_events = models.JSONField(default=list, blank=True)
    conditioning = models.JSONField(
        default=list, blank=True, help_text='Stored control images: [{"type", "key"}].'
    )
    generated_count = models.PositiveIntegerField(default=0)
    accepted_count = models.PositiveIntegerField(default=0)

    class Meta(Work.Meta):
        indexes = [models.Index(fields=["owner", "-created_at"])]
        constraints = [
            *Work.Meta.constraints,
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="generationjob_idempotency_key_per_owner",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=JobKind.values), name="generationjob_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(source__in=JobSource.values), name="generationjob_source_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} job {self.id} ({self.status})"


def generated_image_key(instance: "GeneratedImage", filename: str) -> str:
    # Server-generated keys only; nothing a client sends becomes part of a key.
    return f"generated/{instance.job_id}/{uuid.uuid4().hex}.png"


def thumbnail_key(instance: "GeneratedImage", filename: str) -> str:
    return f"generated/{instance.job_id}/thumbs/{uuid.uuid4().hex}.webp"


class ReviewStatus(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class GeneratedImage(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="images")
    index = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(upload_to=generated_image_key, max_length=300)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    seed = models.BigIntegerField()
    thumbnail = models.FileField(upload_to=thumbnail_key, max_length=300, blank=True)
    consistency_score = models.FloatField(null=True, blank=True)
    accepted = models.BooleanField(default=True)
    review_status = models.CharField(
        max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.PENDING, db_index=True
    )
    featured = models.BooleanField(default=False)
    manifest = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="generatedimage_job_index"),
            models.CheckConstraint(
                condition=models.Q(consistency_score__isnull=True)
                | (models.Q(consistency_score__gte=0.0) & models.Q(consistency_score__lte=1.0)),
                name="generatedimage_score_unit_interval",
            ),
            models.CheckConstraint(
                condition=models.Q(review_status__in=ReviewStatus.values),
                name="generatedimage_review_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"image {self.index} of job {self.job_id}"


def upload_key(instance: "Upload", filename: str) -> str:
    return f"uploads/{instance.owner_id}/{uuid.uuid4().hex}.png"


class Upload(models.Model):
    """An image a user sent for later use (control images, photos); re-encoded PNG."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads"
    )
    image = models.ImageField(upload_to=upload_key, width_field="width", height_field="height")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"upload {self.id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDelivery(models.Model):
    """One webhook POST; its id is the delivery id the receiver sees (for de-duplication)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32)
    url = models.URLField(max_length=500)
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.event} webhook for job {self.job_id} ({self.status})"
