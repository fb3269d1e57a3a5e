"""``{% book_exports book %}``: the book page's export section (forms and the exports with
their status, progress and a fresh link to each finished file), so the books app's page
needs no knowledge of exports."""

from __future__ import annotations

from django import template

from core.media import media_url
from work.models import WorkStatus
from work.progress import percent, work_progress

from ..selectors import exports_of_book
from ..work_kind import EXPORTS

register = template.Library()


@register.inclusion_tag("pages/exports/book_exports.html")
def book_exports(book):
    exports = [
        {
            "export": export,
            "percent": percent(work_progress(EXPORTS, export)),
            "url": media_url(export.file.name) if export.status == WorkStatus.SUCCEEDED else "",
        }
        for export in exports_of_book(book=book)[:10]
    ]
    return {"book": book, "exports": exports}
