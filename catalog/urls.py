"""API routes of the catalog (the LoRA registry, style presets), included under /api/v1/ by
illuplatform/urls.py."""

from django.urls import path

from . import api

urlpatterns = [
    path("models/", api.BaseModelListView.as_view(), name="model-list"),
    path("loras/", api.LoraListCreateView.as_view(), name="lora-list"),
    path("loras/<slug:slug>/", api.LoraDetailView.as_view(), name="lora-detail"),
    path("styles/", api.StyleListView.as_view(), name="style-list"),
    path("styles/<slug:slug>/", api.StyleDetailView.as_view(), name="style-detail"),
]
