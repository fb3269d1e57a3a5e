"""LoRA training runs: a row per run, the source of truth; Redis carries only its id."""

from django.conf import settings
from django.db import models

from catalog.models import Lora, LoraType
from work.models import Work


class SourceKind(models.TextChoices):
    REFERENCE = "reference"  # a character's reference image
    UPLOAD = "upload"  # an image sent to /api/v1/uploads/


class TrainingRun(Work):
    """One LoRA training. Its lifecycle (claim, finish, retry, cancel) is ``work.lifecycle``'s,
    with the hooks of ``training.work_kind.TRAININGS``; a run that is put back resumes from
    its last checkpoint."""

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
        Lora,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="training_runs",
    )

    class Meta(Work.Meta):
        indexes = [models.Index(fields=["owner", "-created_at"])]
        constraints = [
            *Work.Meta.constraints,
            models.CheckConstraint(
                condition=models.Q(lora_type__in=LoraType.values),
                name="trainingrun_lora_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"training {self.name} ({self.status})"

    @property
    def total_steps(self) -> int:
        return int(self.params.get("steps", 0))
