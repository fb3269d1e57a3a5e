"""API routes of books, included under /api/v1/ by illuplatform/urls.py."""

from django.urls import path

from . import views
from .events import book_events

B = "books/<uuid:book_id>/"
P = B + "pages/<uuid:page_id>/"

urlpatterns = [
    path("books/", views.BookListCreateView.as_view(), name="book-list"),
    path(B, views.BookDetailView.as_view(), name="book-detail"),
    path(B + "events/", book_events, name="book-events"),
    path(B + "generate/", views.BookGenerateView.as_view(), name="book-generate"),
    path(B + "pages/", views.PageCreateView.as_view(), name="book-page-list"),
    path(B + "pages/reorder/", views.PageReorderView.as_view(), name="book-page-reorder"),
    path(P, views.PageDetailView.as_view(), name="book-page-detail"),
    path(P + "select/", views.PageSelectView.as_view(), name="book-page-select"),
    path(P + "regenerate/", views.PageRegenerateView.as_view(), name="book-page-regenerate"),
    path(B + "share-links/", views.ShareLinkListCreateView.as_view(), name="share-link-list"),
    path(
        B + "share-links/<uuid:link_id>/",
        views.ShareLinkDetailView.as_view(),
        name="share-link-detail",
    ),
]
