"""Curators' admin for characters: characters, their default LoRAs and reference images go
through the character services."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from core.admin import image_tag
from core.errors import DomainError
from core.image_input import read_uploaded_image

from .models import Character, CharacterLora, ReferenceImage
from .services import (
    character_create,
    character_delete,
    character_update,
    reference_add,
    reference_remove,
)


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
            "owner", "name", "description", "trigger_words", "style", "base_model",
            "consistency_threshold", "scene_presets",
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
    "description", "trigger_words", "style", "base_model", "consistency_threshold",
    "scene_presets",
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
