"""The customer's review page, ``/share/<token>/``: no account, the link's token is the key.
It shows the book's title and pages in order with their text and chosen image, and takes an
approval or a change request per page (CSRF-protected form posts). Nothing else: no other
book, no candidates, no prompts, no identity scores. Every answer, the 404 of an unknown,
revoked or expired link included, is kept out of search engines and sends no Referer (the
URL holds the token); requests are throttled per client address."""

from __future__ import annotations

from functools import wraps

from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from core.errors import DomainError
from core.media import media_url
from core.middleware import refused_page
from core.throttles import SettingRateThrottle, client_ip, retry_after_seconds

from .models import CommentKind
from .share_links import share_decision_record, share_link_for_token


class SharePageThrottle(SettingRateThrottle):
    """Every request (reads too: a token guess is a GET) per client address."""

    scope = "share_page"
    rate_setting = "ILLU_THROTTLE_SHARE_PAGE"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}


def private_headers(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["X-Robots-Tag"] = "noindex, nofollow"
        response["Referrer-Policy"] = "no-referrer"
        response["Cache-Control"] = "no-store"
        return response

    return wrapped


def _not_found(request):
    return render(request, "404.html", status=404)


@private_headers
@require_http_methods(["GET", "POST"])
def share_page(request, token: str):
    throttle = SharePageThrottle()
    if not throttle.allow_request(request, None):
        wait = retry_after_seconds(throttle)
        response = refused_page(
            request, status=429, heading="Too many requests", message="Try again in a minute."
        )
        response["Retry-After"] = str(wait)
        return response
    link = share_link_for_token(token)
    if link is None:
        return _not_found(request)
    errors: dict[str, str] = {}
    if request.method == "POST":
        page_id = request.POST.get("page", "")
        try:
            share_decision_record(
                link=link,
                page_id=page_id,
                decision=request.POST.get("decision", ""),
                comment=request.POST.get("comment", ""),
            )
        except DomainError as exc:
            errors[page_id] = exc.message.split(": ", 1)[-1]
        except ValueError:  # not a page id at all
            errors[page_id] = "Not a page of this book."
        else:
            return redirect(request.path + f"#page-{page_id}")
    return render(
        request,
        "pages/books/share.html",
        {"book": link.book, "pages": _pages(link, errors), "link": link},
        status=400 if errors else 200,
    )


def _pages(link, errors: dict[str, str]) -> list[dict]:
    pages = link.book.pages.select_related("selected_image").prefetch_related("comments")
    return [
        {
            "id": str(page.pk),
            "number": position,
            "text": page.text,
            "image_url": media_url(page.selected_image.file.name) if page.selected_image else "",
            "review_status": page.review_status,
            "decisions": [c for c in page.comments.all() if c.kind != CommentKind.NOTE],
            "error": errors.get(str(page.pk), ""),
        }
        for position, page in enumerate(pages, start=1)
    ]
