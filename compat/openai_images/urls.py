"""The OpenAI routes, included under /v1/ by illuplatform/urls.py (beside the AutoBio
endpoints /v1/images/memory and /subject)."""

from django.urls import path

from . import views

urlpatterns = [
    path("images/generations", views.generations, name="images-generations"),
    path("images/edits", views.edits, name="images-edits"),
    path("images/variations", views.variations, name="images-variations"),
    path("models", views.models, name="models"),
]
