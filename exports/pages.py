"""The export form of the owner's book page: start a PDF or ZIP export, then back to the
book, where ``{% book_exports book %}`` lists the exports with their status and file."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from books.selectors import books_of
from core.errors import DomainError

from .services import export_create


@login_required
@require_POST
def book_export_page(request, book_id):
    book = get_object_or_404(books_of(request.user), pk=book_id)
    try:
        export_create(book=book, format=request.POST.get("format", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Export started; it appears below when done.")
    return redirect(reverse("book", args=[book.pk]) + "#book-export")
