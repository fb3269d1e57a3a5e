"""Admin for book exports: status, progress, format and book, with a link to the file once
made. Read-only: exports are made and cancelled through the API and the book page."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from core.media import media_url

from .models import BookExport


@admin.register(BookExport)
class BookExportAdmin(admin.ModelAdmin):
    list_display = ("id", "book", "format", "status", "progress", "download", "created_at")
    list_filter = ("status", "format")
    search_fields = ("book__title", "owner__username")
    fields = (
        "book", "owner", "format", "status", "progress", "error", "attempts", "worker_name",
        "download", "created_at", "started_at", "finished_at",
    )  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="progress")
    def progress(self, export: BookExport) -> str:
        return f"{export.pages_done} / {export.pages_total} pages"

    @admin.display(description="file")
    def download(self, export: BookExport):
        if not export.file:
            return "–"
        return format_html(
            '<a href="{}">download {}</a>', media_url(export.file.name), export.format
        )
