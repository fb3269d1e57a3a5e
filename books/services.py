"""Writes on books and their pages: create, update, delete, reorder. Generating pages is
``books.generation_runs``; choosing a page's image ``books.page_selection``; share links and
review decisions ``books.share_links``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db import transaction

from accounts.models import User
from catalog.base_models import resolve_model
from catalog.models import StylePreset
from characters.models import Character
from core.errors import InvalidParams
from generation.models import Upload

from .models import Book, BookPage

BOOK_FIELDS = (
    "title",
    "model",
    "page_width_in",
    "page_height_in",
    "bleed_in",
    "dpi",
    "candidates_per_page",
)
PAGE_FIELDS = ("text", "prompt", "control_type")


def _invalid(field: str, message: str) -> InvalidParams:
    return InvalidParams(f"{field}: {message}", {field: [message]})


def _style(slug: str | None) -> StylePreset | None:
    if not slug:
        return None
    style = StylePreset.objects.filter(slug=slug, enabled=True).first()
    if style is None:
        raise _invalid("style", f"Unknown or disabled style {slug!r}.")
    return style


def _owned_characters(owner: User, ids: list[UUID | str], field: str) -> list[Character]:
    ids = list(dict.fromkeys(str(value) for value in ids))
    found = {str(c.pk): c for c in Character.objects.filter(owner=owner, pk__in=ids)}
    for position, value in enumerate(ids):
        if value not in found:
            raise _invalid(f"{field}.{position}", f"No character {value} among yours.")
    return [found[value] for value in ids]


def _model(slug: str) -> str:
    """A book's base model: empty (the style's, else the platform's) or an enabled model's
    slug; unknown or disabled is a 400 naming ``model``."""
    if slug:
        resolve_model(slug)
    return slug


@transaction.atomic
def book_create(*, owner: User, title: str, **fields: Any) -> Book:
    characters = _owned_characters(owner, fields.pop("characters", []), "characters")
    style = _style(fields.pop("style", None))
    if "model" in fields:
        fields["model"] = _model(fields["model"])
    book = Book(owner=owner, title=title, style=style)
    for name in BOOK_FIELDS:
        if name in fields:
            setattr(book, name, fields[name])
    book.save()
    book.characters.set(characters)
    return book


@transaction.atomic
def book_update(*, book: Book, **fields: Any) -> Book:
    if "model" in fields:
        fields["model"] = _model(fields["model"])
    if "style" in fields:
        book.style = _style(fields.pop("style"))
    if "characters" in fields:
        characters = _owned_characters(book.owner, fields.pop("characters"), "characters")
        kept = {c.pk for c in characters}
        used = Character.objects.filter(pk__in=_page_character_ids(book)).exclude(pk__in=kept)
        if used.exists():
            names = ", ".join(sorted(c.name for c in used))
            raise _invalid("characters", f"Pages still show {names}; take them off first.")
        book.characters.set(characters)
    for name in BOOK_FIELDS:
        if name in fields:
            setattr(book, name, fields[name])
    book.save()
    return book


def _page_character_ids(book: Book) -> set:
    through = BookPage.characters.through
    return set(through.objects.filter(bookpage__book=book).values_list("character_id", flat=True))


def book_delete(*, book: Book) -> None:
    """The book, its pages, links and comments; the generated images stay the owner's jobs'."""
    book.delete()


def _page_characters(book: Book, ids: list[UUID | str]) -> list[Character]:
    ids = list(dict.fromkeys(str(value) for value in ids))
    found = {str(c.pk): c for c in book.characters.filter(pk__in=ids)}
    for position, value in enumerate(ids):
        if value not in found:
            raise _invalid(f"characters.{position}", f"Character {value} is not in this book.")
    return [found[value] for value in ids]


def _control_image(owner: User, upload_id) -> Upload | None:
    if not upload_id:
        return None
    upload = Upload.objects.filter(owner=owner, pk=upload_id).first()
    if upload is None:
        raise _invalid("control_image", f"No upload {upload_id} among yours.")
    return upload


def _check_control(page: BookPage) -> None:
    if bool(page.control_image_id) != bool(page.control_type):
        raise _invalid("control_type", "A control needs both control_image and control_type.")


@transaction.atomic
def page_create(*, book: Book, prompt: str, **fields: Any) -> BookPage:
    """A new page, last unless ``order`` is given (then the pages from there move down)."""
    Book.objects.select_for_update().filter(pk=book.pk).first()
    characters = _page_characters(book, fields.pop("characters", []))
    pages = list(book.pages.all())
    position = min(fields.pop("order", len(pages)), len(pages))
    page = BookPage(book=book, prompt=prompt, order=position)
    for name in PAGE_FIELDS:
        if name in fields:
            setattr(page, name, fields[name])
    page.control_image = _control_image(book.owner, fields.get("control_image"))
    _check_control(page)
    page.save()
    page.characters.set(characters)
    pages.insert(position, page)
    _renumber(pages)
    return page


@transaction.atomic
def page_update(*, page: BookPage, **fields: Any) -> BookPage:
    if "characters" in fields:
        page.characters.set(_page_characters(page.book, fields.pop("characters")))
    if "control_image" in fields:
        page.control_image = _control_image(page.book.owner, fields.pop("control_image"))
    for name in PAGE_FIELDS:
        if name in fields:
            setattr(page, name, fields[name])
    _check_control(page)
    page.save()
    return page


@transaction.atomic
def page_delete(*, page: BookPage) -> None:
    book = page.book
    Book.objects.select_for_update().filter(pk=book.pk).first()
    page.delete()
    _renumber(list(book.pages.all()))


@transaction.atomic
def pages_reorder(*, book: Book, order: list[UUID | str]) -> list[BookPage]:
    """Put the pages in ``order``: every page of the book, each once."""
    Book.objects.select_for_update().filter(pk=book.pk).first()
    pages = {str(page.pk): page for page in book.pages.all()}
    wanted = [str(value) for value in order]
    if len(set(wanted)) != len(wanted) or set(wanted) != set(pages):
        raise _invalid("order", "List every page of the book exactly once.")
    ordered = [pages[value] for value in wanted]
    _renumber(ordered)
    return ordered


def _renumber(pages: list[BookPage]) -> None:
    changed = []
    for position, page in enumerate(pages):
        if page.order != position:
            page.order = position
            changed.append(page)
    BookPage.objects.bulk_update(changed, ["order"])
