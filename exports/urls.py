"""API routes of book exports, included under /api/v1/ by illuplatform/urls.py."""

from django.urls import path

from . import api

urlpatterns = [
    path("books/<uuid:book_id>/export/", api.BookExportCreateView.as_view(), name="book-export"),
    path(
        "books/<uuid:book_id>/exports/", api.BookExportListView.as_view(), name="book-export-list"
    ),
    path(
        "books/<uuid:book_id>/exports/<uuid:export_id>/",
        api.BookExportDetailView.as_view(),
        name="book-export-detail",
    ),
    path(
        "books/<uuid:book_id>/exports/<uuid:export_id>/cancel/",
        api.BookExportCancelView.as_view(),
        name="book-export-cancel",
    ),
]
