"""Curators' view of training runs: status, loss, samples; cancel runs and publish a trained
LoRA (make it public). Thin: writes go through training.services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.files.storage import default_storage
from django.utils.html import format_html, format_html_join

from core.admin import pretty_json
from core.errors import Conflict
from work.progress import work_progress

from .models import TrainingRun
from .pages import PLOT_HEIGHT, PLOT_WIDTH, loss_plot_points
from .services import trained_lora_publish, training_cancel
from .work_kind import TRAININGS


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = (
        "name", "owner", "lora_type", "status", "steps_done", "final_loss", "lora", "published",
        "created_at",
    )  # fmt: skip
    list_filter = ("status", "lora_type")
    search_fields = ("name", "trigger_word", "owner__username", "id")
    list_select_related = ("owner", "lora")
    actions = ("publish_lora", "cancel_runs")
    fields = (
        "id", "owner", "character", "name", "lora_type", "trigger_word", "status", "error",
        "attempts", "worker_name", "checkpoint_step", "initial_loss", "final_loss", "loss_plot",
        "sample_images", "lora", "params_pretty", "images_pretty", "manifest_pretty",
        "created_at", "started_at", "finished_at",
    )  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # runs are started through the API or the character page

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="steps")
    def steps_done(self, run: TrainingRun) -> str:
        progress = work_progress(TRAININGS, run)
        return f"{progress['step']} / {progress['total']}"

    @admin.display(description="public", boolean=True)
    def published(self, run: TrainingRun) -> bool | None:
        return run.lora.is_public if run.lora else None

    @admin.display(description="loss")
    def loss_plot(self, run: TrainingRun):
        if not run.loss_history:
            return "—"
        return format_html(
            '<svg viewBox="0 0 {} {}" width="{}" height="{}" style="background:#f6f6f6">'
            '<polyline fill="none" stroke="#c0392b" points="{}"/></svg>',
            PLOT_WIDTH, PLOT_HEIGHT, PLOT_WIDTH, PLOT_HEIGHT, loss_plot_points(run.loss_history),
        )  # fmt: skip

    @admin.display(description="samples")
    def sample_images(self, run: TrainingRun):
        if not run.samples:
            return "—"
        return format_html_join(
            " ",
            '<figure style="display:inline-block"><img src="{}" alt="{}" style="max-width:128px">'
            "<figcaption>step {}</figcaption></figure>",
            ((default_storage.url(s["key"]), s["prompt"], s["step"]) for s in run.samples),
        )

    @admin.display(description="params")
    def params_pretty(self, run: TrainingRun):
        return pretty_json(run.params)

    @admin.display(description="images")
    def images_pretty(self, run: TrainingRun):
        return pretty_json(run.images)

    @admin.display(description="manifest")
    def manifest_pretty(self, run: TrainingRun):
        return pretty_json(run.manifest) if run.manifest else "—"

    @admin.action(description="Publish the trained LoRA (make it public)")
    def publish_lora(self, request, queryset):
        published = 0
        for run in queryset.select_related("lora"):
            if run.lora is not None and not run.lora.is_public:
                trained_lora_publish(lora=run.lora)
                published += 1
        messages.success(request, f"{published} LoRA(s) published.")

    @admin.action(description="Cancel the selected runs")
    def cancel_runs(self, request, queryset):
        cancelled = 0
        for run in queryset:
            try:
                training_cancel(run=run)
                cancelled += 1
            except Conflict:
                continue
        messages.success(request, f"{cancelled} run(s) cancelled.")
