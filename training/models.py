"""LoRA training runs: a row per run, the source of truth; Redis carries only its id."""

import uuid

from django.conf import settings
from django.db import models

from catalog.models import LoraType
from generation.models import FINISHED_STATUSES, JobStatus

TrainingStatus = JobStatus  # queued, running, succeeded, failed, cancelled: as for jobs


class SourceKind(models.TextChoices):
    REFERENCE = "reference"  # a character's reference image
    UPLOAD = "upload"  # an image sent to /api/v1/uploads/


class TrainingRun(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_runs"
    )
    character = models.ForeignKey(
        "characters.Character",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="training_runs",
    )
    name = models.CharField(max_length=120)
    lora_type = models.CharField(max_length=16, choices=LoraType.choices)
    trigger_word = models.CharField(max_length=64)
    images = models.JSONField(
        default=list,
        help_text='Training images: [{"kind": "reference"|"upload", "id", "caption"}].',
    )
    params = models.JSONField(
        default=dict, help_text="Every resolved hyper-parameter, the seed and the model included."
    )
    attach_to_character = models.BooleanField(default=False)
    status = models.CharField(
        max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    error = models.JSONField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    worker_name = models.CharField(max_length=200, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    # The last checkpoint in storage: a resumed run continues from its step.
    checkpoint_key = models.CharField(max_length=300, blank=True)
    checkpoint_step = models.PositiveIntegerField(default=0)
    samples = models.JSONField(
        default=list, blank=True, help_text='Sample images: [{"step", "prompt", "key"}].'
    )
    loss_history = models.JSONField(default=list, blank=True, help_text="Loss of every step.")
    initial_loss = models.FloatField(null=True, blank=True)
    final_loss = models.FloatField(null=True, blank=True)
    manifest = models.JSONField(null=True, blank=True)
    lora = models.ForeignKey(
        "catalog.Lora",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="training_runs",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=JobStatus.values), name="trainingrun_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(lora_type__in=LoraType.values),
                name="trainingrun_lora_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"training {self.name} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def total_steps(self) -> int:
        return int(self.params.get("steps", 0))
