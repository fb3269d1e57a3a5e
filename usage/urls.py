"""API routes of usage, included under /api/v1/ by illuplatform/urls.py."""

from django.urls import path

from .api import UsageView

urlpatterns = [
    path("usage/", UsageView.as_view(), name="usage"),
]
