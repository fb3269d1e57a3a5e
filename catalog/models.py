"""The curated catalog every app draws on: the base models (checkpoints) of the fleet, style
presets, the LoRA registry and LoRA combinations."""

import uuid

from django.conf import settings
from django.db import models

from .model_sources import validate_model_source


class Scheduler(models.TextChoices):
    EULER = "euler"
    EULER_A = "euler_a"
    DPMPP_2M = "dpmpp_2m"
    DDIM = "ddim"
    # Few-step samplers of distilled SDXL variants (LCM, TCD; SDXL-Lightning and Hyper-SD
    # sample with Euler over trailing timesteps).
    LCM = "lcm"
    TCD = "tcd"
    EULER_TRAILING = "euler_trailing"


class Quality(models.TextChoices):
    DRAFT = "draft"
    STANDARD = "standard"
    HIGH = "high"
    ULTRA = "ultra"
    TURBO = "turbo"


class BaseModelFamily(models.TextChoices):
    """The architecture a LoRA was trained for; a LoRA only fits a base model of its family."""

    SDXL = "sdxl", "SDXL"
    SD15 = "sd15", "Stable Diffusion 1.5"


# The families the engine can run as a base model (a LoRA may declare another one; it is
# then refused on every model).
SERVABLE_FAMILIES = (BaseModelFamily.SDXL,)


class BaseModel(models.Model):
    """A checkpoint of the fleet: where its weights come from, and how it samples by default.
    ``source`` is staff-only; users see the slug."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    family = models.CharField(
        max_length=16,
        choices=[(family.value, family.label) for family in SERVABLE_FAMILIES],
        default=BaseModelFamily.SDXL,
    )
    source = models.CharField(
        max_length=500,
        validators=[validate_model_source],
        help_text="Hub id (org/name[@revision][/file.safetensors]), local diffusers folder, "
        "single-file .safetensors checkpoint, s3://bucket/prefix, or demo:<name>.",
    )
    vae = models.CharField(
        max_length=500,
        blank=True,
        validators=[validate_model_source],
        help_text="Optional VAE source (an fp16-safe one, e.g. madebyollin/sdxl-vae-fp16-fix).",
    )
    sha256 = models.CharField(
        max_length=64, blank=True, help_text="Of the weights, filled in by the worker once fetched."
    )
    default_scheduler = models.CharField(
        max_length=16, choices=Scheduler.choices, default=Scheduler.EULER
    )
    license_note = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(family__in=[family.value for family in SERVABLE_FAMILIES]),
                name="basemodel_family_servable",
            ),
            models.CheckConstraint(
                condition=models.Q(default_scheduler__in=Scheduler.values),
                name="basemodel_scheduler_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class StylePreset(models.Model):
    """A curated look: prompt template, negative prompt, sampler defaults, control weights."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    prompt_template = models.TextField(
        default="{prompt}", help_text="Must contain {prompt}, where the user's prompt goes."
    )
    negative_prompt = models.TextField(blank=True)
    quality = models.CharField(max_length=16, choices=Quality.choices, default=Quality.STANDARD)
    steps = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Overrides the quality preset's steps when set."
    )
    scheduler = models.CharField(max_length=16, choices=Scheduler.choices, default="euler")
    ip_adapter_scale = models.FloatField(null=True, blank=True)
    base_model = models.ForeignKey(
        BaseModel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The checkpoint this style runs on; empty: the platform default.",
    )
    controlnet_weights = models.JSONField(
        default=dict,
        blank=True,
        help_text='Control type -> conditioning scale, e.g. {"canny": 0.9}',
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(prompt_template__contains="{prompt}"),
                name="stylepreset_template_has_prompt",
            ),
            models.CheckConstraint(
                condition=models.Q(quality__in=Quality.values), name="stylepreset_quality_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(scheduler__in=Scheduler.values),
                name="stylepreset_scheduler_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(ip_adapter_scale__isnull=True)
                | (models.Q(ip_adapter_scale__gte=0.0) & models.Q(ip_adapter_scale__lte=1.0)),
                name="stylepreset_ip_scale_unit_interval",
            ),
            models.CheckConstraint(
                condition=models.Q(steps__isnull=True)
                | (models.Q(steps__gte=1) & models.Q(steps__lte=150)),
                name="stylepreset_steps_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def render(self, prompt: str) -> str:
        return self.prompt_template.replace("{prompt}", prompt)


class LoraType(models.TextChoices):
    CHARACTER = "character"
    STYLE = "style"
    BACKGROUND = "background"
    POSE = "pose"
    DETAIL = "detail"


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
