"""The owner's book pages: the list (with a create form) and a book's storyboard: pages in
order (drag to reorder: books.js posts to the reorder API), generate, live progress per page
(the book's event stream), candidates side by side with identity scores, select, regenerate,
share links and their review decisions. Another user's book is a 404. Each form posts to a
small view that calls a service and comes back to the storyboard."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.media import media_url
from core.throttles import JobCreateThrottle, throttled_page

from .generation_runs import book_generate, page_regenerate, page_select
from .selectors import book_cost, book_progress, books_of, candidate_scores, page_candidates
from .services import book_create, page_create
from .share_links import share_link_create, share_link_revoke


@login_required
def book_list(request):
    if request.method == "POST":
        title = request.POST.get("title", "").strip()
        if title:
            book = book_create(owner=request.user, title=title[:200])
            return redirect("book", book_id=book.pk)
        messages.error(request, "Give the book a title.")
    books = [{"book": b, "progress": book_progress(b)} for b in books_of(request.user)]
    return render(request, "pages/books/list.html", {"books": books})


@login_required
def book_detail(request, book_id):
    book = get_object_or_404(books_of(request.user), pk=book_id)
    context = {
        "book": book,
        "pages": [_page_view(page) for page in book.pages.all()],
        "progress": book_progress(book),
        "cost": book_cost(book),
        "characters": list(book.characters.all()),
        "links": list(book.share_links.all()),
    }
    return render(request, "pages/books/book.html", context)


def _page_view(page) -> dict:
    scores = candidate_scores(page)
    names = {str(c.pk): c.name for c in page.characters.all()}
    candidates = [
        {
            "image": image,
            "url": media_url(image.thumbnail.name or image.file.name),
            "selected": image.pk == page.selected_image_id,
            "scores": [
                {"name": names.get(cid, "?"), "score": score}
                for cid, score in scores.get(str(image.pk), {}).items()
            ],
        }
        for image in page_candidates(page)
    ]
    selected = page.selected_image
    return {
        "page": page,
        "image_url": media_url(selected.file.name) if selected else "",
        "candidates": candidates,
        "characters": list(names.values()),
        "decisions": list(page.comments.all()),
    }


def _back(book_id, page_id=None):
    url = reverse("book", args=[book_id])
    return redirect(url + (f"#page-{page_id}" if page_id else ""))


def _done(request, action, book_id, page_id=None, success=""):
    """Run ``action``; a refusal (bad input, quota) is shown as a message."""
    try:
        action()
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if success:
            messages.success(request, success)
    return _back(book_id, page_id)


@login_required
@require_POST
def page_add(request, book_id):
    book = get_object_or_404(books_of(request.user), pk=book_id)
    prompt, text = request.POST.get("prompt", "").strip(), request.POST.get("text", "")
    characters = request.POST.getlist("characters")
    if not prompt:
        messages.error(request, "Describe the page's scene (prompt).")
        return _back(book.pk)
    return _done(
        request, lambda: page_create(book=book, prompt=prompt, text=text, characters=characters),
        book.pk,
    )  # fmt: skip


@login_required
@require_POST
@throttled_page(JobCreateThrottle)
def book_generate_page(request, book_id):
    book = get_object_or_404(books_of(request.user), pk=book_id)
    return _done(request, lambda: book_generate(book=book), book.pk, success="Generating.")


@login_required
@require_POST
def page_select_page(request, book_id, page_id):
    book = get_object_or_404(books_of(request.user), pk=book_id)
    page = get_object_or_404(book.pages.all(), pk=page_id)
    image = request.POST.get("image", "")
    return _done(request, lambda: page_select(page=page, image_id=image), book.pk, page.pk)


@login_required
@require_POST
@throttled_page(JobCreateThrottle)
def page_regenerate_page(request, book_id, page_id):
    book = get_object_or_404(books_of(request.user), pk=book_id)
    page = get_object_or_404(book.pages.all(), pk=page_id)
    prompt = request.POST.get("prompt", "").strip() or None
    note = request.POST.get("note", "").strip()

    def regenerate():
        page_regenerate(page=page, prompt=prompt, note=note, author=request.user)

    return _done(request, regenerate, book.pk, page.pk, success="Regenerating the page.")


@login_required
@require_POST
def share_link_add(request, book_id):
    book = get_object_or_404(books_of(request.user), pk=book_id)
    label = request.POST.get("label", "").strip()[:120] or "Customer"
    try:
        days = int(request.POST.get("expires_in_days") or 14)
        link, token = share_link_create(book=book, label=label, expires_in_days=days)
    except (DomainError, ValueError) as exc:
        messages.error(request, getattr(exc, "message", "Days must be a number."))
        return _back(book.pk)
    url = request.build_absolute_uri(reverse("share-page", args=[token]))
    # Shown once: only the token's hash is kept.
    messages.success(request, f"Share link for {link.label}: {url}")
    return _back(book.pk)


@login_required
@require_POST
def share_link_revoke_page(request, book_id, link_id):
    book = get_object_or_404(books_of(request.user), pk=book_id)
    link = get_object_or_404(book.share_links.all(), pk=link_id)
    share_link_revoke(link=link)
    messages.success(request, f"The link for {link.label} no longer opens the book.")
    return _back(book.pk)
