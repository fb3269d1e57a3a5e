"""Curators' admin for style presets, jobs and generated images. Thin: writes go through
services (job_cancel, job_requeue, image review); rows without a service are plain ModelForm
saves (full_clean runs). Also holds the small helpers the other apps' admins share."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from characters.registry_sync import controlnet_weights_errors

from .errors import Conflict, DomainError
from .image_review import image_delete, image_set_featured, image_set_review
from .models import (
    GeneratedImage,
    GenerationJob,
    ReviewStatus,
    StylePreset,
    Upload,
    WebhookDelivery,
)
from .services import job_cancel, job_delete, job_requeue

# ---------------------------------------------------------------- shared helpers


def image_tag(file, alt: str, size: int = 96):
    """A small <img> of a stored file (a fresh presigned URL on S3), or a dash."""
    if not file or not file.name:
        return "—"
    return format_html(
        '<img src="{}" alt="{}" loading="lazy" style="max-width:{}px;max-height:{}px">',
        file.url,
        alt,
        size,
        size,
    )


def pretty_json(value: Any):
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, default=str))


def add_service_errors(form: forms.Form, exc: Exception) -> None:
    """Show a service's DomainError or ValidationError on the form fields it names."""
    if isinstance(exc, DomainError):
        fields = [name for name in exc.fields or {} if name in form.fields]
        # The message names the problem best (the field messages may name temp files).
        form.add_error(fields[0] if len(fields) == 1 else None, exc.message)
    elif hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class ServiceAddMixin:
    """An add page backed by a plain form and a service, so that what the service refuses is
    shown on the form and nothing is stored. Subclasses set ``add_form`` and implement
    ``create_from_form``."""

    add_form: type[forms.Form]

    def create_from_form(self, request, form):
        raise NotImplementedError

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        posted = request.method == "POST"
        form = self.add_form(request.POST if posted else None, request.FILES if posted else None)
        if posted and form.is_valid():
            try:
                with transaction.atomic():
                    obj = self.create_from_form(request, form)
            except (DomainError, ValidationError) as exc:
                add_service_errors(form, exc)
            else:
                self.log_addition(request, obj, [{"added": {}}])
                return self.response_add(request, obj)
        admin_form = helpers.AdminForm(
            form, [(None, {"fields": list(form.fields)})], {}, model_admin=self
        )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Add {self.opts.verbose_name}",
            "subtitle": None,
            "adminform": admin_form,
            "object_id": None,
            "original": None,
            "is_popup": False,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        return self.render_change_form(
            request, context, add=True, change=False, obj=None, form_url=form_url
        )


def report_per_object(modeladmin, request, objects, action, verb: str) -> None:
    """Run ``action`` on each object; a Conflict is reported for that object, not raised."""
    done = 0
    for obj in objects:
        try:
            action(obj)
        except Conflict as exc:
            modeladmin.message_user(request, exc.message, messages.ERROR)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, f"{verb} {done} of {len(objects)}.", messages.SUCCESS)


# ---------------------------------------------------------------- style presets


class StylePresetForm(forms.ModelForm):
    class Meta:
        model = StylePreset
        fields = (
            "name", "slug", "enabled", "prompt_template", "negative_prompt", "quality", "steps",
            "scheduler", "ip_adapter_scale", "controlnet_weights",
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
    list_display = ("name", "slug", "quality", "scheduler", "ip_adapter_scale", "enabled")
    list_filter = ("enabled", "quality", "scheduler")
    search_fields = ("name", "slug", "prompt_template")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "slug", "enabled")}),
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


# ---------------------------------------------------------------- jobs


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "kind", "owner", "priority", "created_at", "attempts")
    list_filter = ("status", "kind", ("owner", admin.RelatedOnlyFieldListFilter), "priority")
    search_fields = ("owner__username", "worker_name")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    actions = ("cancel_jobs", "requeue_jobs")
    fields = (
        ("id", "status", "kind", "priority"),
        ("owner", "style", "character", "avatar"),
        ("created_at", "started_at", "finished_at"),
        ("attempts", "worker_name"),
        "params_pretty",
        "timings_pretty",
        "error_pretty",
        "images_preview",
        "more_fields",
    )
    readonly_fields = tuple(
        name for row in fields for name in (row if isinstance(row, tuple) else (row,))
    )
    SHOWN = {*readonly_fields, "params", "timings", "error"}

    # Jobs are created through the API, whose serializer validates the parameters.
    def has_add_permission(self, request):
        return False

    def delete_model(self, request, obj):
        job_delete(job=obj)  # with its images' stored files; an active job is cancelled first

    def delete_queryset(self, request, queryset):
        for job in queryset:
            job_delete(job=job)

    @admin.display(description="params")
    def params_pretty(self, job):
        return pretty_json(job.params)

    @admin.display(description="timings")
    def timings_pretty(self, job):
        return pretty_json(job.timings)

    @admin.display(description="error")
    def error_pretty(self, job):
        return pretty_json(job.error) if job.error else "—"

    @admin.display(description="more")
    def more_fields(self, job):
        # Every other column (webhooks, idempotency, conditioning...), so the page keeps up
        # with the model without listing each field here.
        rest = {
            field.name: getattr(job, field.attname)
            for field in job._meta.concrete_fields
            if field.name not in self.SHOWN
        }
        return pretty_json(rest)

    @admin.display(description="images")
    def images_preview(self, job):
        return (
            format_html_join(
                " ",
                '<a href="{}">{}</a>',
                (
                    (
                        reverse("admin:generation_generatedimage_change", args=[image.pk]),
                        image_tag(image.thumbnail or image.file, f"image {image.index}"),
                    )
                    for image in job.images.all()
                ),
            )
            or "—"
        )

    @admin.action(description="Cancel selected jobs")
    def cancel_jobs(self, request, queryset):
        report_per_object(
            self, request, list(queryset), lambda job: job_cancel(job=job), "Cancelled"
        )

    @admin.action(description="Requeue selected jobs (same row, back on its queue)")
    def requeue_jobs(self, request, queryset):
        report_per_object(
            self, request, list(queryset), lambda job: job_requeue(job=job), "Requeued"
        )


# ---------------------------------------------------------------- images


class ConsistencyScoreFilter(admin.SimpleListFilter):
    title = "consistency score"
    parameter_name = "score"
    BUCKETS = {
        "lt0.3": ("< 0.3", Q(consistency_score__lt=0.3)),
        "0.3-0.5": ("0.3 – 0.5", Q(consistency_score__gte=0.3, consistency_score__lt=0.5)),
        "0.5-0.7": ("0.5 – 0.7", Q(consistency_score__gte=0.5, consistency_score__lt=0.7)),
        "ge0.7": ("≥ 0.7", Q(consistency_score__gte=0.7)),
        "none": ("none", Q(consistency_score__isnull=True)),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in self.BUCKETS.items()]

    def queryset(self, request, queryset):
        bucket = self.BUCKETS.get(self.value())
        return queryset.filter(bucket[1]) if bucket else queryset


@admin.register(GeneratedImage)
class GeneratedImageAdmin(admin.ModelAdmin):
    list_display = (
        "thumb", "job_link", "index", "review_status", "score", "accepted", "featured",
        "created_at",
    )  # fmt: skip
    list_display_links = ("thumb", "index")
    list_filter = (
        "review_status",
        "job__kind",  # e.g. only upscales or face repairs
        ("job__character", admin.RelatedOnlyFieldListFilter),
        "accepted",
        "featured",
        ConsistencyScoreFilter,
    )
    list_select_related = ("job",)
    ordering = ("-created_at", "index")  # newest first: what the GPUs just produced
    list_per_page = 60
    search_fields = ("job__owner__username",)
    actions = ("approve", "reject", "feature", "unfeature")
    fields = (
        "large_image",
        ("review_status", "featured"),
        ("job_link", "index", "seed"),
        ("width", "height", "consistency_score", "accepted"),
        "created_at",
        "manifest_pretty",
    )
    readonly_fields = (
        "large_image", "job_link", "index", "seed", "width", "height", "consistency_score",
        "accepted", "created_at", "manifest_pretty",
    )  # fmt: skip

    def has_add_permission(self, request):
        return False  # images come only from GPU workers

    def delete_model(self, request, obj):
        image_delete(images=[obj])  # the stored files go too

    def delete_queryset(self, request, queryset):
        image_delete(images=list(queryset))

    @admin.display(description="image")
    def thumb(self, image):
        return image_tag(image.thumbnail or image.file, f"image {image.index} of {image.job_id}")

    @admin.display(description="image")
    def large_image(self, image):
        return image_tag(image.file, f"image {image.index} of job {image.job_id}", size=768)

    @admin.display(description="job", ordering="job__created_at")
    def job_link(self, image):
        url = reverse("admin:generation_generationjob_change", args=[image.job_id])
        return format_html('<a href="{}">{}</a>', url, image.job_id)

    # Unscored images count as the lowest scores in both directions, on SQLite and Postgres
    # alike (Postgres would otherwise put NULLs first when sorting descending).
    @admin.display(description="score", ordering=F("consistency_score").asc(nulls_first=True))
    def score(self, image):
        return "—" if image.consistency_score is None else f"{image.consistency_score:.3f}"

    @admin.display(description="manifest")
    def manifest_pretty(self, image):
        return pretty_json(image.manifest)

    def save_model(self, request, obj, form, change):
        # The change page edits only what the review services own.
        if "review_status" in form.changed_data:
            image_set_review(images=[obj], status=obj.review_status)
        if "featured" in form.changed_data:
            image_set_featured(images=[obj], featured=obj.featured)

    def _report(self, request, changed: int, total: int, what: str) -> None:
        self.message_user(request, f"{what}: {changed} of {total} changed.", messages.SUCCESS)

    @admin.action(description="Approve selected images")
    def approve(self, request, queryset):
        images = list(queryset)
        changed = image_set_review(images=images, status=ReviewStatus.APPROVED)
        self._report(request, changed, len(images), "Approved")

    @admin.action(description="Reject selected images")
    def reject(self, request, queryset):
        images = list(queryset)
        changed = image_set_review(images=images, status=ReviewStatus.REJECTED)
        self._report(request, changed, len(images), "Rejected")

    @admin.action(description="Feature selected images")
    def feature(self, request, queryset):
        images = list(queryset)
        self._report(
            request, image_set_featured(images=images, featured=True), len(images), "Featured"
        )

    @admin.action(description="Unfeature selected images")
    def unfeature(self, request, queryset):
        images = list(queryset)
        changed = image_set_featured(images=images, featured=False)
        self._report(request, changed, len(images), "Unfeatured")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Read-only: operators see which receivers fail and why; the worker does the sending."""

    list_display = ("id", "job", "event", "status", "attempts", "response_status", "created_at")
    list_filter = ("status", "event")
    search_fields = ("job__id", "url")
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    """Read-only list of user uploads (control images and photos) with thumbnails."""

    list_display = ("id", "owner", "width", "height", "created_at")
    search_fields = ("owner__username",)
    readonly_fields = ("id", "owner", "image", "width", "height", "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
