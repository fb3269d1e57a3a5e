"""The server-rendered pages (included at the root of illuplatform/urls.py), and static
files for them under any server: uvicorn serves none itself."""

from django.contrib.staticfiles.views import serve as serve_static
from django.urls import path, re_path

from accounts import pages as account_pages
from books import pages as book_pages
from books.share_page import share_page
from characters import pages as character_pages
from exports.pages import book_export_page
from generation import pages
from training import pages as training_pages

urlpatterns = [
    path("", pages.home, name="home"),
    path("login/", account_pages.LoginView.as_view(), name="login"),
    path("logout/", account_pages.LogoutView.as_view(), name="logout"),
    path("create/", pages.create, name="create"),
    path("jobs/<uuid:job_id>/", pages.job_detail, name="job"),
    path("jobs/<uuid:job_id>/cancel/", pages.job_cancel_page, name="job-cancel-page"),
    path("gallery/", pages.gallery, name="gallery"),
    path("images/<uuid:image_id>/", pages.image_detail, name="image"),
    path("images/<uuid:image_id>/download/", pages.image_download, name="image-download"),
    path("images/<uuid:image_id>/again/", pages.image_again, name="image-again"),
    path("images/<uuid:image_id>/delete/", pages.image_delete_page, name="image-delete"),
    path("images/<uuid:image_id>/edit/", pages.image_edit, name="image-edit"),
    path("characters/", character_pages.character_list, name="characters"),
    path("characters/<uuid:character_id>/", character_pages.character_detail, name="character"),
    path(
        "characters/<uuid:character_id>/delete/",
        character_pages.character_delete_page,
        name="character-delete",
    ),
    path(
        "characters/<uuid:character_id>/references/<uuid:reference_id>/remove/",
        character_pages.reference_remove_page,
        name="reference-remove",
    ),
    path(
        "characters/<uuid:character_id>/train/",
        training_pages.training_start_page,
        name="training-start",
    ),
    path("trainings/", training_pages.training_list, name="trainings"),
    path("trainings/<uuid:training_id>/", training_pages.training_detail, name="training"),
    path(
        "trainings/<uuid:training_id>/cancel/",
        training_pages.training_cancel_page,
        name="training-cancel-page",
    ),
    path("books/", book_pages.book_list, name="books"),
    path("books/<uuid:book_id>/", book_pages.book_detail, name="book"),
    path("books/<uuid:book_id>/pages/add/", book_pages.page_add, name="book-page-add"),
    path("books/<uuid:book_id>/generate/", book_pages.book_generate_page, name="book-generate"),
    path("books/<uuid:book_id>/export/", book_export_page, name="book-export"),
    path(
        "books/<uuid:book_id>/pages/<uuid:page_id>/select/",
        book_pages.page_select_page,
        name="book-page-select",
    ),
    path(
        "books/<uuid:book_id>/pages/<uuid:page_id>/regenerate/",
        book_pages.page_regenerate_page,
        name="book-page-regenerate",
    ),
    path("books/<uuid:book_id>/share-links/", book_pages.share_link_add, name="book-share-add"),
    path(
        "books/<uuid:book_id>/share-links/<uuid:link_id>/revoke/",
        book_pages.share_link_revoke_page,
        name="book-share-revoke",
    ),
    path("share/<str:token>/", share_page, name="share-page"),
    path("avatars/", account_pages.avatar_list, name="avatars"),
    path(
        "avatars/<uuid:avatar_id>/primary/",
        account_pages.avatar_primary_page,
        name="avatar-primary-page",
    ),
    path(
        "avatars/<uuid:avatar_id>/delete/", account_pages.avatar_delete_page, name="avatar-delete"
    ),
    # The staticfiles finders (app static dirs and STATICFILES_DIRS), as runserver does, but
    # also with DEBUG off: the files are few and small, and no collectstatic step or extra
    # package is needed under `make run`, the tests or the container. This also serves the
    # admin's and Swagger UI's files.
    re_path(r"^static/(?P<path>.+)$", serve_static, {"insecure": True}),
]
