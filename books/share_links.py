"""Customer review through a link: ``/share/<token>/``. The token is 32 random bytes from
``secrets`` (256 bits, URL-safe); only its SHA-256 is stored, so a database read does not
open any book. A revoked or expired link finds nothing (404)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from core.errors import InvalidParams

from .models import (
    Book,
    BookPage,
    BookStatus,
    CommentKind,
    PageComment,
    PageReviewStatus,
    ShareLink,
)

TOKEN_BYTES = 32
MAX_EXPIRES_IN_DAYS = 365
DECISIONS = {
    CommentKind.APPROVED: PageReviewStatus.APPROVED,
    CommentKind.CHANGES_REQUESTED: PageReviewStatus.CHANGES_REQUESTED,
}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def share_link_create(*, book: Book, label: str, expires_in_days: int) -> tuple[ShareLink, str]:
    """The link and its token (shown once: it is not kept)."""
    if not 1 <= expires_in_days <= MAX_EXPIRES_IN_DAYS:
        message = f"Must be 1 to {MAX_EXPIRES_IN_DAYS} days."
        raise InvalidParams(f"expires_in_days: {message}", {"expires_in_days": [message]})
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = ShareLink.objects.create(
        book=book,
        label=label,
        token_hash=token_hash(token),
        expires_at=timezone.now() + timedelta(days=expires_in_days),
    )
    return link, token


def share_link_revoke(*, link: ShareLink) -> ShareLink:
    ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    link.refresh_from_db()
    return link


def share_link_for_token(token: str) -> ShareLink | None:
    """The live link the token opens: None when unknown, revoked or expired."""
    if not token or len(token) > 200:
        return None
    return (
        ShareLink.objects.select_related("book")
        .filter(
            token_hash=token_hash(token), revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
        .first()
    )


@transaction.atomic
def share_decision_record(
    *, link: ShareLink, page_id: UUID | str, decision: str, comment: str = ""
) -> PageComment:
    """The customer approves a page or asks for a change (a comment required): the page's
    review status follows, and the decision is kept with the link's label and the time."""
    if decision not in DECISIONS:
        raise InvalidParams("decision: unknown decision.", {"decision": ["Unknown decision."]})
    comment = comment.strip()
    if decision == CommentKind.CHANGES_REQUESTED and not comment:
        message = "Say what should change."
        raise InvalidParams(f"comment: {message}", {"comment": [message]})
    page = BookPage.objects.select_for_update().filter(book=link.book, pk=page_id).first()
    if page is None:
        raise InvalidParams("page: not a page of this book.", {"page": ["Not in this book."]})
    page.review_status = DECISIONS[decision]
    page.save(update_fields=["review_status", "updated_at"])
    _book_review_status(link.book)
    return PageComment.objects.create(
        page=page, kind=decision, text=comment, share_link=link, label=link.label
    )


def _book_review_status(book: Book) -> None:
    """Approved once every page is; back to review when a page is no longer approved."""
    pending = book.pages.exclude(review_status=PageReviewStatus.APPROVED).exists()
    if pending:
        Book.objects.filter(pk=book.pk, status=BookStatus.APPROVED).update(status=BookStatus.REVIEW)
    else:
        Book.objects.filter(pk=book.pk, status=BookStatus.REVIEW).update(status=BookStatus.APPROVED)


@transaction.atomic
def pages_review_set(*, pages, decision: str, author, comment: str = "") -> int:
    """A staff member's decision on pages (the admin's review actions), kept like a
    customer's, labelled with their username."""
    count = 0
    for page in pages:
        page.review_status = DECISIONS[decision]
        page.save(update_fields=["review_status", "updated_at"])
        label = f"staff: {author.get_username()}"
        PageComment.objects.create(
            page=page, kind=decision, text=comment, author=author, label=label
        )
        _book_review_status(page.book)
        count += 1
    return count
