"""Curators' admin for characters and the LoRA registry. LoRA files are added only through
``lora_register`` (safetensors checks, nothing stored on failure); characters, their default
LoRAs and reference images go through the character services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat

from accounts.models import User
from core.admin import ServiceAddMixin, image_tag
from core.errors import DomainError
from core.image_input import read_uploaded_image

from .models import (
    BaseModelFamily,
    Character,
    CharacterLora,
    Lora,
    LoraCombination,
    LoraCombinationEntry,
    LoraType,
    ReferenceImage,
)
from .services import (
    character_create,
    character_delete,
    character_update,
    lora_register,
    lora_set_enabled,
    reference_add,
    reference_remove,
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


# ---------------------------------------------------------------- characters


class CharacterLoraForm(forms.ModelForm):
    class Meta:
        model = CharacterLora
        fields = ("lora", "weight")

    def clean(self):
        # The same rules as character_update, here so they show next to the row.
        data = super().clean()
        lora, weight = data.get("lora"), data.get("weight")
        if lora is not None and not lora.enabled:
            self.add_error("lora", "This LoRA is disabled.")
        elif (
            lora is not None
            and weight is not None
            and not (lora.min_weight <= weight <= lora.max_weight)
        ):
            self.add_error("weight", f"Must be within {lora.min_weight}..{lora.max_weight}.")
        return data


class CharacterLoraInline(admin.TabularInline):
    model = CharacterLora
    form = CharacterLoraForm
    autocomplete_fields = ("lora",)
    extra = 1
    verbose_name = "default LoRA"
    verbose_name_plural = "default LoRAs"


class ReferenceImageInline(admin.TabularInline):
    model = ReferenceImage
    fields = ("thumb", "width", "height", "face_count", "created_at")
    readonly_fields = fields
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False  # added through the "new reference" upload field of the character

    @admin.display(description="image")
    def thumb(self, reference):
        return image_tag(reference.image, f"reference of {reference.character}", size=96)


class CharacterForm(forms.ModelForm):
    new_reference = forms.FileField(
        required=False, help_text="Add a reference image (PNG, JPEG or WebP)."
    )

    class Meta:
        model = Character
        fields = (
            "owner", "name", "description", "trigger_words", "style", "consistency_threshold",
            "scene_presets",
        )  # fmt: skip

    def clean_new_reference(self):
        upload = self.cleaned_data.get("new_reference")
        if upload:
            # Refuse a bad image here, before anything is saved; reference_add decodes again.
            try:
                read_uploaded_image(upload, field="new_reference")
            except DomainError as exc:
                raise ValidationError(exc.message)
            upload.seek(0)
        return upload


CHARACTER_FIELDS = (
    "description", "trigger_words", "style", "consistency_threshold", "scene_presets",
)  # fmt: skip


@admin.register(Character)
class CharacterAdmin(admin.ModelAdmin):
    form = CharacterForm
    list_display = ("name", "owner", "style", "consistency_threshold", "reference_count")
    list_filter = (("owner", admin.RelatedOnlyFieldListFilter), "style")
    search_fields = ("name", "description", "owner__username")
    list_select_related = ("owner", "style")
    autocomplete_fields = ("owner",)
    readonly_fields = ("embedding_backend", "created_at", "updated_at")
    inlines = (CharacterLoraInline, ReferenceImageInline)

    @admin.display(description="references")
    def reference_count(self, character):
        return character.references.count()

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in CHARACTER_FIELDS}
        if change:
            character_update(character=obj, owner=obj.owner, name=obj.name, **fields)
        else:
            # The inlines are bound to the form's instance: make it the created row.
            created = character_create(owner=obj.owner, name=obj.name, **fields)
            obj.pk, obj._state.adding = created.pk, False
            obj.refresh_from_db()

    def save_formset(self, request, form, formset, change):
        character = form.instance
        if formset.model is CharacterLora:
            loras = [
                {"lora": row.cleaned_data["lora"].slug, "weight": row.cleaned_data["weight"]}
                for row in formset.forms
                if row.cleaned_data and not row.cleaned_data.get("DELETE")
            ]
            character_update(character=character, default_loras=loras)
        elif formset.model is ReferenceImage:
            for row in formset.deleted_forms:
                reference_remove(reference=row.instance)
        # What the admin's change message reads after a formset's own save().
        formset.new_objects, formset.changed_objects = [], []
        formset.deleted_objects = [row.instance for row in formset.deleted_forms]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        upload = form.cleaned_data.get("new_reference")
        if upload:
            reference_add(character=form.instance, upload=upload)

    def delete_model(self, request, obj):
        character_delete(character=obj)

    def delete_queryset(self, request, queryset):
        for character in queryset:
            character_delete(character=character)
