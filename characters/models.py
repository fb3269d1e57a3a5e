"""Characters, their reference images, and the LoRA registry."""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

UNIT_INTERVAL = [MinValueValidator(0.0), MaxValueValidator(1.0)]


class LoraType(models.TextChoices):
    CHARACTER = "character"
    STYLE = "style"
    BACKGROUND = "background"
    POSE = "pose"
    DETAIL = "detail"


class BaseModelFamily(models.TextChoices):
    SDXL = "sdxl", "SDXL"
    SD15 = "sd15", "Stable Diffusion 1.5"


def lora_key(instance: "Lora", filename: str) -> str:
    # The client's file name is only a label (original_filename); keys are ours.
    return f"loras/{uuid.uuid4().hex}.safetensors"


def lora_preview_key(instance: "Lora", filename: str) -> str:
    return f"loras/previews/{uuid.uuid4().hex}.png"


class Lora(models.Model):
    """A registry entry: one safetensors LoRA file, identified by its sha256."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    type = models.CharField(max_length=16, choices=LoraType.choices)
    file = models.FileField(upload_to=lora_key, max_length=300)
    original_filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, unique=True)
    size_bytes = models.BigIntegerField()
    base_model = models.CharField(
        max_length=16, choices=BaseModelFamily.choices, default=BaseModelFamily.SDXL
    )
    trigger_words = models.JSONField(default=list, blank=True)
    default_weight = models.FloatField(default=0.8)
    min_weight = models.FloatField(default=0.0)
    max_weight = models.FloatField(default=1.5)
    preview = models.ImageField(upload_to=lora_preview_key, null=True, blank=True)
    enabled = models.BooleanField(default=True)
    is_public = models.BooleanField(default=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="loras",
        help_text="Empty for platform LoRAs; a private LoRA belongs to its owner.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["type", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(type__in=LoraType.values), name="lora_type_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(min_weight__lte=models.F("default_weight"))
                & models.Q(default_weight__lte=models.F("max_weight")),
                name="lora_default_weight_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(is_public=True) | models.Q(owner__isnull=False),
                name="lora_public_or_owned",
            ),
            models.CheckConstraint(condition=models.Q(size_bytes__gt=0), name="lora_size_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.type})"


class LoraCombination(models.Model):
    """A named, weighted set of LoRAs that curators reuse (e.g. character + style + scene)."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    loras = models.ManyToManyField(Lora, through="LoraCombinationEntry", related_name="+")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class LoraCombinationEntry(models.Model):
    combination = models.ForeignKey(
        LoraCombination, on_delete=models.CASCADE, related_name="entries"
    )
    lora = models.ForeignKey(Lora, on_delete=models.CASCADE, related_name="+")
    weight = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["combination", "lora"], name="combination_lora_once")
        ]

    def __str__(self) -> str:
        return f"{self.lora} x {self.weight}"


class Character(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="characters"
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    trigger_words = models.JSONField(default=list, blank=True)
    default_loras = models.ManyToManyField(Lora, through="CharacterLora", related_name="+")
    style = models.ForeignKey(
        "generation.StylePreset", on_delete=models.SET_NULL, null=True, blank=True
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
