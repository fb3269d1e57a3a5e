"""The admin's fleet page: every live GPU worker from its heartbeat (device, residency budget,
resident and parked base models, current job, model switches), staff only. A thin view over
``work.workers.live_workers``; nothing here writes."""

from __future__ import annotations

from django.contrib import admin
from django.template.response import TemplateResponse
from redis.exceptions import RedisError

from work.workers import live_workers


def fleet_view(request):
    try:
        workers, error = live_workers(), ""
    except RedisError as exc:
        workers, error = [], f"Redis did not answer: {exc}"
    context = {
        **admin.site.each_context(request),
        "title": "GPU fleet",
        "workers": workers,
        "error": error,
        "busy": sum(1 for worker in workers if worker["current_job"]),
    }
    return TemplateResponse(request, "admin/fleet.html", context)


def fleet_urls():
    from django.urls import path

    return [path("", admin.site.admin_view(fleet_view), name="admin-fleet")]
