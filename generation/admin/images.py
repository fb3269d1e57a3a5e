"""Generated images: the review grid (filters by review status, character, accepted, featured
and score bucket), approve / reject / feature through the review services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import F, Q
from django.urls import reverse
from django.utils.html import format_html

from core.admin import (
    image_tag,
    pretty_json,
)

from ..image_review import image_delete, image_set_featured, image_set_review
from ..models import (
    GeneratedImage,
    ReviewStatus,
)


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
