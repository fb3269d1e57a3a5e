"""Read-only records: webhook deliveries (which receivers fail and why) and user uploads."""

from __future__ import annotations

from django.contrib import admin

from ..models import (
    Upload,
    WebhookDelivery,
)


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
