"""The AutoBio service's routes, included under /v1/ by illuplatform/urls.py (its URLs kept)."""

from django.urls import path

from .autobio import memory_view, subject_view
from .waiting import prefer_wait

urlpatterns = [
    path("images/memory", prefer_wait(memory_view), name="autobio-memory"),
    path("images/subject", prefer_wait(subject_view), name="autobio-subject"),
]
