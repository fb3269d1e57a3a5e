"""Curators' admin for the catalog. Base models: curated rows, enabled and disabled rather than
deleted (jobs and manifests name them by slug). Style presets: their ControlNet weights follow
the same rule as a registry import. LoRA files are added only through ``lora_register``
(safetensors checks, nothing stored on failure)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat

from accounts.models import User
from core.admin import ServiceAddMixin, image_tag

from .base_models import base_model_set_enabled
from .controlnet_weights import controlnet_weights_errors
from .models import (
    BaseModel,
    BaseModelFamily,
    Lora,
    LoraCombination,
    LoraCombinationEntry,
    LoraType,
    StylePreset,
)
from .services import lora_register, lora_set_enabled

# ---------------------------------------------------------------- base models


@admin.register(BaseModel)
class BaseModelAdmin(admin.ModelAdmin):
    """The admin site is staff-only, so the source (kept from users) is shown here."""

    list_display = ("name", "slug", "family", "source", "default_scheduler", "sha_short", "enabled")
    list_filter = ("enabled", "family", "default_scheduler")
    search_fields = ("name", "slug", "source", "sha256")
    prepopulated_fields = {"slug": ("name",)}
    actions = ("enable", "disable")
    readonly_fields = ("sha256", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "slug", "family", "enabled")}),
        ("Weights", {"fields": ("source", "vae", "sha256")}),
        ("Sampling", {"fields": ("default_scheduler",)}),
        ("License", {"fields": ("license_note",)}),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    def save_model(self, request, obj, form, change):
        # New weights: the worker records their sha256 again when it first loads them.
        if change and {"source", "vae"} & set(form.changed_data):
            obj.sha256 = ""
        super().save_model(request, obj, form, change)

    # A model jobs ran on stays: disable it instead.
    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="sha256", ordering="sha256")
    def sha_short(self, model):
        return model.sha256[:12] or "-"

    def _set_enabled(self, request, queryset, enabled: bool) -> None:
        models = list(queryset)
        for model in models:
            base_model_set_enabled(model=model, enabled=enabled)
        state = "Enabled" if enabled else "Disabled"
        self.message_user(request, f"{state} {len(models)} base models.", messages.SUCCESS)

    @admin.action(description="Enable selected base models")
    def enable(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected base models")
    def disable(self, request, queryset):
        self._set_enabled(request, queryset, False)


# ---------------------------------------------------------------- style presets


class StylePresetForm(forms.ModelForm):
    class Meta:
        model = StylePreset
        fields = (
            "name", "slug", "enabled", "base_model", "prompt_template", "negative_prompt",
            "quality", "steps", "scheduler", "ip_adapter_scale", "controlnet_weights",
        )  # fmt: skip

    def clean_controlnet_weights(self):
        value = self.cleaned_data.get("controlnet_weights")
        value = {} if value is None else value
        errors = controlnet_weights_errors(value)
        if errors:
            raise ValidationError(errors)
        return value


@admin.register(StylePreset)
class StylePresetAdmin(admin.ModelAdmin):
    form = StylePresetForm
    list_display = (
        "name", "slug", "base_model", "quality", "scheduler", "ip_adapter_scale", "enabled",
    )  # fmt: skip
    list_filter = ("enabled", "quality", "scheduler", "base_model")
    search_fields = ("name", "slug", "prompt_template")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "slug", "enabled", "base_model")}),
        ("Prompt", {"fields": ("prompt_template", "negative_prompt")}),
        ("Sampling", {"fields": ("quality", "steps", "scheduler", "ip_adapter_scale")}),
        (
            "ControlNet",
            {
                "fields": ("controlnet_weights",),
                "description": "Control type (canny, depth, pose, segmentation, normal, "
                'scribble) -> weight 0..2, e.g. {"canny": 0.9, "depth": 0.5}.',
            },
        ),
        ("History", {"fields": ("created_at", "updated_at")}),
    )


# ---------------------------------------------------------------- LoRA registry


class LoraUploadForm(forms.Form):
    file = forms.FileField(help_text="A .safetensors LoRA file; pickle formats are refused.")
    slug = forms.SlugField(max_length=80)
    name = forms.CharField(max_length=120)
    type = forms.ChoiceField(choices=LoraType.choices)
    base_model = forms.ChoiceField(choices=BaseModelFamily.choices, initial=BaseModelFamily.SDXL)
    trigger_words = forms.CharField(required=False, help_text="Comma-separated.")
    default_weight = forms.FloatField(initial=0.8)
    min_weight = forms.FloatField(initial=0.0)
    max_weight = forms.FloatField(initial=1.5)
    is_public = forms.BooleanField(required=False, initial=True)
    owner = forms.ModelChoiceField(
        User.objects.all(), required=False, help_text="Only for a private LoRA."
    )

    def clean_trigger_words(self) -> list[str]:
        return [
            word.strip() for word in self.cleaned_data["trigger_words"].split(",") if word.strip()
        ]


@admin.register(Lora)
class LoraAdmin(ServiceAddMixin, admin.ModelAdmin):
    add_form = LoraUploadForm
    list_display = (
        "name", "slug", "type", "base_model", "enabled", "is_public", "sha_short", "size",
        "owner", "created_at",
    )  # fmt: skip
    list_filter = ("type", "enabled", "is_public", "base_model")
    search_fields = ("name", "slug", "sha256", "original_filename")
    list_select_related = ("owner",)
    actions = ("enable", "disable")
    readonly_fields = (
        "enabled", "sha256", "size", "original_filename", "file", "created_at", "preview_tag",
    )  # fmt: skip
    fieldsets = (
        (None, {"fields": ("name", "slug", "type", "base_model", "enabled")}),
        ("Use", {"fields": ("trigger_words", "default_weight", "min_weight", "max_weight")}),
        ("Visibility", {"fields": ("is_public", "owner")}),
        ("File", {"fields": ("sha256", "size", "original_filename", "file", "created_at")}),
        ("Preview", {"fields": ("preview", "preview_tag")}),
    )

    def create_from_form(self, request, form):
        lora, created = lora_register(upload=form.cleaned_data.pop("file"), **form.cleaned_data)
        if not created:
            # Same sha256: lora_register hands back the existing entry; say so on the field.
            raise ValidationError(
                {"file": f"This file is already registered as {lora.slug!r}; nothing was added."}
            )
        return lora

    # A registered file stays: disable it instead (jobs and manifests refer to it).
    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="sha256", ordering="sha256")
    def sha_short(self, lora):
        return lora.sha256[:12]

    @admin.display(description="size", ordering="size_bytes")
    def size(self, lora):
        return filesizeformat(lora.size_bytes)

    @admin.display(description="preview image")
    def preview_tag(self, lora):
        return image_tag(lora.preview, f"preview of {lora.name}", size=256)

    def _set_enabled(self, request, queryset, enabled: bool) -> None:
        loras = list(queryset)
        for lora in loras:
            lora_set_enabled(lora=lora, enabled=enabled)
        state = "Enabled" if enabled else "Disabled"
        self.message_user(request, f"{state} {len(loras)} LoRAs.", messages.SUCCESS)

    @admin.action(description="Enable selected LoRAs")
    def enable(self, request, queryset):
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected LoRAs")
    def disable(self, request, queryset):
        self._set_enabled(request, queryset, False)


class LoraCombinationEntryInline(admin.TabularInline):
    model = LoraCombinationEntry
    autocomplete_fields = ("lora",)
    extra = 1


@admin.register(LoraCombination)
class LoraCombinationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "lora_count")
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (LoraCombinationEntryInline,)

    @admin.display(description="LoRAs")
    def lora_count(self, combination):
        return combination.entries.count()
