"""The book's event channel (Redis pub/sub through ``work.redis_channel``): a ``page`` event
as a page gets its image, ``completed`` once every page has one. ``books.api.events`` streams
it as Server-Sent Events."""

from __future__ import annotations

from uuid import UUID

from work.redis_channel import publish_event


def book_channel_id(book_id: UUID | str) -> str:
    return f"book-{book_id}"


def book_page_published(*, book_id: UUID | str, page_id: UUID | str, done: bool) -> None:
    """Best effort, like every published event: the rows keep the truth."""
    channel = book_channel_id(book_id)
    publish_event(channel, "page", {"page": str(page_id)})
    if done:
        publish_event(channel, "completed", {"book": str(book_id)})
