"""Writes on exports: start one (queued on the CPU export queue once committed) and cancel
one. The book's owner is checked by the caller (the book is looked up among theirs)."""

from __future__ import annotations

from django.db import transaction

from core.errors import InvalidParams
from work.lifecycle import work_cancel, work_enqueue_on_commit

from .models import BookExport, ExportFormat
from .work_kind import EXPORTS


@transaction.atomic
def export_create(*, book, format: str) -> BookExport:
    if format not in ExportFormat.values:
        message = f"Choose one of {', '.join(ExportFormat.values)}."
        raise InvalidParams(f"format: {message}", {"format": [message]})
    export = BookExport.objects.create(
        owner=book.owner, book=book, format=format, pages_total=book.pages.count()
    )
    work_enqueue_on_commit(EXPORTS, export)
    return export


def export_cancel(*, export: BookExport) -> BookExport:
    """Queued (or waiting for upscales): cancelled at once, with its unfinished upscale
    jobs; running: stops after the page it is on; finished: Conflict."""
    return work_cancel(EXPORTS, row=export)
