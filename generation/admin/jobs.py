"""Jobs: read-only detail with parameters, timings, errors and images; cancel and requeue
through the job services."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html_join

from core.admin import (
    image_tag,
    pretty_json,
    report_per_object,
)

from ..models import (
    GenerationJob,
)
from ..services import job_cancel, job_delete, job_requeue


@admin.register(GenerationJob)
class GenerationJobAdmin(admin.ModelAdmin):
    list_display = (
        "id", "status", "kind", "source", "owner", "priority", "created_at", "attempts",
    )  # fmt: skip
    list_filter = (
        "status", "kind", "source", ("owner", admin.RelatedOnlyFieldListFilter), "priority",
    )  # fmt: skip
    search_fields = ("owner__username", "worker_name")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    actions = ("cancel_jobs", "requeue_jobs")
    fields = (
        ("id", "status", "kind", "priority"),
        ("source", "source_user"),
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
