from django.urls import path

from .seed_compat import memory_view, subject_view
from .waiting import prefer_wait

urlpatterns = [
    path("images/memory", prefer_wait(memory_view), name="seed-memory"),
    path("images/subject", prefer_wait(subject_view), name="seed-subject"),
]
