"""Characters and their reference images; their default LoRAs and style come from the catalog."""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from catalog.models import BaseModel, Lora, StylePreset

UNIT_INTERVAL = [MinValueValidator(0.0), MaxValueValidator(1.0)]


class Character(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="characters"
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    trigger_words = models.JSONField(default=list, blank=True)
    default_loras = models.ManyToManyField(Lora, through="CharacterLora", related_name="+")
    style = models.ForeignKey(StylePreset, on_delete=models.SET_NULL, null=True, blank=True)
    base_model = models.ForeignKey(
        BaseModel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The checkpoint this character's images use unless the job or style names one.",
    )
    consistency_threshold = models.FloatField(default=0.5, validators=UNIT_INTERVAL)
    scene_presets = models.JSONField(
        default=dict, blank=True, help_text="Scene name -> prompt fragment."
    )
    # Normalized mean of the references' face embeddings; recomputed when references change.
    reference_embedding = models.JSONField(null=True, blank=True)
    embedding_backend = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="character_name_per_owner"),
            models.CheckConstraint(
                condition=models.Q(consistency_threshold__gte=0.0)
                & models.Q(consistency_threshold__lte=1.0),
                name="character_threshold_unit_interval",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CharacterLora(models.Model):
    character = models.ForeignKey(Character, on_delete=models.CASCADE, related_name="lora_links")
    lora = models.ForeignKey(Lora, on_delete=models.PROTECT, related_name="+")
    weight = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["character", "lora"], name="character_lora_once")
        ]

    def __str__(self) -> str:
        return f"{self.lora} x {self.weight}"


def reference_key(instance: "ReferenceImage", filename: str) -> str:
    return f"references/{instance.character_id}/{uuid.uuid4().hex}.png"


class ReferenceImage(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    character = models.ForeignKey(Character, on_delete=models.CASCADE, related_name="references")
    image = models.ImageField(upload_to=reference_key, width_field="width", height_field="height")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    face_count = models.PositiveSmallIntegerField(null=True, blank=True)
    face_embedding = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"reference {self.id} of {self.character}"

    @property
    def face_flagged(self) -> bool:
        """A reference without exactly one face is kept but not used for the identity."""
        return self.face_count is not None and self.face_count != 1
