"""`GET /api/v1/books/{id}/events/`: Server-Sent Events of a book's generation: a ``page``
event (``{"page": id}``) for each page that has its image (those done before the client came
first), then ``completed`` once every page has one. A long wait like the jobs' streams
(``work.event_stream``): signed in and read in short units, no thread or database connection
held while it waits, one watch on the process's shared Redis subscription."""

from __future__ import annotations

from collections.abc import AsyncIterator

from django.db import Error as DatabaseError

from core.acting import acting_user
from core.db_units import short_db_unit
from core.errors import DomainError
from core.long_waits import long_wait
from work.event_hub import event_hub
from work.event_stream import KEEPALIVE_SECONDS, LeasedStreamingResponse, error_response
from work.event_stream import sse_message as sse
from work.long_wait_caps import STREAM, Lease, lease_acquire
from work.long_wait_sign_in import DatabaseUnavailable, sign_in
from work.redis_channel import events_channel
from work.waiting import refusal

from ..models import Book
from ..page_events import book_channel_id
from ..selectors import books_of


def _admit(request, book_id) -> tuple[Lease | None, object]:
    signed_in = sign_in(request)
    if signed_in is None:
        message = "Authentication credentials were not provided."
        return None, error_response(401, "not_authenticated", message)
    try:
        owner = acting_user(request, requester=signed_in.user)
    except DomainError as exc:
        return None, refusal(exc)
    if not books_of(owner).filter(pk=book_id).exists():
        return None, error_response(404, "not_found", "Not found.")
    return lease_acquire(what=STREAM, user_id=signed_in.user.pk), None


def _pages_done(book_id) -> tuple[list[str], bool] | None:
    """The pages that have their image, and whether every page has; None: no such book."""
    book = Book.objects.filter(pk=book_id).first()
    if book is None:
        return None
    pages = list(book.pages.values_list("pk", "selected_image_id"))
    done = [str(pk) for pk, image in pages if image]
    return done, bool(pages) and len(done) == len(pages)


async def _events(book_id) -> AsyncIterator[bytes]:
    sent: set[str] = set()
    async with event_hub().watch(events_channel(book_channel_id(book_id))) as watch:
        read_again = True
        while True:
            if read_again:  # on opening, and whenever events may have been missed
                state = await short_db_unit(_pages_done, book_id)
                if state is None:
                    yield sse("error", {"code": "not_found", "message": "The book is gone."})
                    return
                for page in state[0]:
                    if page not in sent:
                        sent.add(page)
                        yield sse("page", {"page": page})
                if state[1]:
                    yield sse("completed", {"book": str(book_id)})
                    return
            signal = await watch.next(timeout=KEEPALIVE_SECONDS)
            read_again = signal is None and watch.degraded or (signal and signal.kind != "event")
            if signal is None:
                yield b": keep-alive\n\n"
            elif signal.kind == "event":
                event, data = signal.data.get("event"), signal.data.get("data") or {}
                if event == "page" and data.get("page") not in sent:
                    sent.add(data["page"])
                    yield sse("page", data)
                elif event == "completed":
                    read_again = True  # confirm from the rows, then end


async def book_events_view(request, book_id):
    try:
        lease, refused = await short_db_unit(_admit, request, book_id)
    except DatabaseError:
        return refusal(DatabaseUnavailable())
    except DomainError as exc:  # over a cap
        return refusal(exc)
    if refused is not None:
        return refused

    async def stream() -> AsyncIterator[bytes]:
        try:
            async for chunk in _events(book_id):
                yield chunk
        finally:
            await lease.aclose()

    response = LeasedStreamingResponse(stream(), content_type="text/event-stream", lease=lease)
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


book_events = long_wait(book_events_view)
