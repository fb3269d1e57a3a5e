"""`GET /api/v1/books/{id}/events/`: Server-Sent Events of a book's generation: a ``page``
event (``{"page": id}``) for each page that has its image (those done before the client came
first), then ``completed`` once every page has one. A long wait like the jobs' streams
(``work.event_stream``): signed in and read in short units, no thread or database connection
held while it waits, one watch on the process's shared Redis subscription, and the stream
guard (``work.stream_guard``) re-checking the credential that opened it: once it no longer
signs its user in (a revoked token, a signed-out session, a deactivated user) the stream ends
with an ``error`` event ``not_authenticated``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from django.db import Error as DatabaseError

from core.acting import acting_user
from core.db_units import short_db_unit
from core.errors import DomainError
from core.long_waits import long_wait
from work.event_hub import Watch, event_hub
from work.event_stream import (
    KEEPALIVE_SECONDS,
    REVOKED,
    Admitted,
    LeasedStreamingResponse,
    error_response,
)
from work.event_stream import sse_message as sse
from work.long_wait_caps import STREAM, lease_acquire
from work.long_wait_sign_in import DatabaseUnavailable, sign_in
from work.redis_channel import events_channel
from work.stream_guard import Guarded, stream_guard
from work.waiting import refusal

from ..models import Book
from ..page_events import book_channel_id
from ..selectors import books_of


def _admit(request, book_id) -> tuple[Admitted | None, object]:
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
    lease = lease_acquire(what=STREAM, user_id=signed_in.user.pk)
    return Admitted(str(book_id), signed_in.credential, lease), None


def _pages_done(book_id) -> tuple[list[str], bool] | None:
    """The pages that have their image, and whether every page has; None: no such book."""
    book = Book.objects.filter(pk=book_id).first()
    if book is None:
        return None
    pages = list(book.pages.values_list("pk", "selected_image_id"))
    done = [str(pk) for pk, image in pages if image]
    return done, bool(pages) and len(done) == len(pages)


@contextlib.asynccontextmanager
async def _follow_book(admitted: Admitted) -> AsyncIterator[Watch]:
    """Subscribed to the book's channel, and guarded: the watch is told ``revoked`` once the
    credential no longer signs its user in (``ended`` once the book is gone)."""
    channel = events_channel(book_channel_id(admitted.row_id))
    async with event_hub().watch(channel) as watch:
        guarded = Guarded(watch, Book, admitted.row_id, admitted.credential)
        with stream_guard().guarding(guarded):
            yield watch


async def _events(admitted: Admitted) -> AsyncIterator[bytes]:
    book_id = admitted.row_id
    sent: set[str] = set()
    async with _follow_book(admitted) as watch:
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
            if signal is not None and signal.kind == "revoked":
                yield sse("error", REVOKED)
                return
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
        admitted, refused = await short_db_unit(_admit, request, book_id)
    except DatabaseError:
        return refusal(DatabaseUnavailable())
    except DomainError as exc:  # over a cap
        return refusal(exc)
    if refused is not None:
        return refused

    async def stream() -> AsyncIterator[bytes]:
        try:
            async for chunk in _events(admitted):
                yield chunk
        finally:
            await admitted.lease.aclose()

    response = LeasedStreamingResponse(
        stream(), content_type="text/event-stream", lease=admitted.lease
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


book_events = long_wait(book_events_view)
