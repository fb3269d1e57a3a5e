"""Review metrics: how often what the platform generated for books was accepted, per style,
character and model.

Acceptance rate = approved pages / generated images. *Generated* counts every candidate image
of the pages' jobs (first generates, re-rolls, repairs, regenerates); *approved* counts pages
whose review status is approved and that hold a selected image. A rate of 0.25 means that one
approved page took four generated images. Grouped by the book's style, by each character a
page names (a page with two characters counts for both) and by the base model of the jobs (for
approved pages, the model of the selected image's job). Derived from rows each time."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, QuerySet
from django.db.models.fields.json import KeyTextTransform

from characters.models import Character
from generation.models import GeneratedImage

from .models import BookPage, PageReviewStatus

NONE = "(none)"

# group -> (the key of a generated image, the key of an approved page)
_KEYS: dict[str, tuple[Any, Any]] = {
    "style": (F("job__book_page_link__page__book__style__slug"), F("book__style__slug")),
    "character": (F("job__book_page_link__page__characters"), F("characters")),
    "model": (
        KeyTextTransform("model", "job__params"),
        KeyTextTransform("model", "selected_image__job__params"),
    ),
}
GROUPS = tuple(_KEYS)


def _counts(rows: QuerySet, key: Any) -> dict[Any, int]:
    counted = rows.annotate(key=key).values("key").annotate(n=Count("pk", distinct=True))
    return {row["key"] or NONE: row["n"] for row in counted.order_by()}


def _labels(group: str, keys: set) -> dict[Any, str]:
    """Characters are counted by id (names repeat across owners) and shown as "name (owner)"."""
    if group != "character":
        return {key: str(key) for key in keys}
    characters = Character.objects.filter(pk__in=keys).select_related("owner")
    return {c.pk: f"{c.name} ({c.owner.username})" for c in characters}


def acceptance_rates(*, group: str, pages: QuerySet[BookPage] | None = None) -> list[dict]:
    """``[{"key", "generated", "approved", "rate"}]`` per ``group`` value (``GROUPS``; the key
    shown is a style's slug, a character's "name (owner)", a model's source) over
    ``pages`` (every book page by default), most generated first; ``rate`` is None where
    nothing was generated. Pages without characters are left out of the character group."""
    pages = BookPage.objects.all() if pages is None else pages
    image_key, page_key = _KEYS[group]
    images = GeneratedImage.objects.filter(job__book_page_link__page__in=pages)
    approved_pages = pages.filter(
        review_status=PageReviewStatus.APPROVED, selected_image__isnull=False
    )
    if group == "character":
        images = images.filter(job__book_page_link__page__characters__isnull=False)
        approved_pages = approved_pages.filter(characters__isnull=False)
    generated = _counts(images, image_key)
    approved = _counts(approved_pages, page_key)
    labels = _labels(group, generated.keys() | approved.keys())
    rows = [
        {
            "key": labels[key],
            "generated": generated.get(key, 0),
            "approved": approved.get(key, 0),
            "rate": round(approved.get(key, 0) / generated[key], 3) if generated.get(key) else None,
        }
        for key in generated.keys() | approved.keys()
    ]
    return sorted(rows, key=lambda row: (-row["generated"], row["key"]))
