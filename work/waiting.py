"""Long waits on a row of background work, held by no thread and no database connection:
the event streams (``work.event_stream``), ``Prefer: wait`` on the routes that create work, and
every later route that answers when its row ends.

- ``follow_row``: a watch on the row's events (one Redis pub/sub connection per process fans
  out to every watch, ``work.event_hub``), guarded by the process's stream guard (credential
  still signing in, row ended; ``work.stream_guard``).
- ``wait_for_row_end``: THE wait: up to N s until the row ends. Reads the row once, then only
  when a signal says it may have changed (every second while Redis does not answer).
- ``admit_long_wait``: sign the request in and take a slot under the caps, in one short unit.
- ``prefer_wait``: wrap a sync view that creates a row so that ``Prefer: wait=N`` holds the
  answer until the row ends or N s pass."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import Error as DatabaseError
from django.http import JsonResponse

from core.api_errors import error_body
from core.db_units import short_db_unit
from core.errors import DomainError
from core.long_waits import long_wait

from .event_hub import Watch, event_hub
from .kinds import WorkKind
from .long_wait_caps import WAIT, Lease, lease_acquire
from .long_wait_sign_in import Credential, DatabaseUnavailable, SignedIn, sign_in
from .models import FINISHED_STATUSES
from .redis_channel import events_channel
from .stream_guard import Guarded, stream_guard

_PREFER_WAIT = re.compile(r"(?:^|[;,\s])wait\s*=\s*(\d+)", re.IGNORECASE)


def is_final(status: str | None) -> bool:
    return status in FINISHED_STATUSES


@contextlib.asynccontextmanager
async def follow_row(
    kind: WorkKind, row_id: str, *, credential: Credential | None = None
) -> AsyncIterator[Watch]:
    """Subscribed on entry (reading the row afterwards misses no event); with a
    ``credential``, the watch is told ``revoked`` once it no longer signs its user in."""
    async with event_hub().watch(events_channel(row_id)) as watch:
        with stream_guard().guarding(Guarded(watch, kind.model, row_id, credential)):
            yield watch


def _row_status(kind: WorkKind, row_id: str) -> str | None:
    return kind.model.objects.filter(pk=row_id).values_list("status", flat=True).first()


async def row_status(kind: WorkKind, row_id: str) -> str | None:
    """The row's status (None: no such row), read in a short unit."""
    return await short_db_unit(_row_status, kind, row_id)


async def wait_for_row_end(kind: WorkKind, row_id: str, *, seconds: float) -> str | None:
    """Wait until the row ends, at most ``seconds``: its final status, or None when it has
    not ended in time (or no longer exists). Holds no database connection and no thread
    while it waits."""
    deadline = time.monotonic() + seconds
    async with follow_row(kind, row_id) as watch:
        status = await row_status(kind, row_id)
        while status is not None and not is_final(status):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            signal = await watch.next(timeout=remaining)
            if signal is None:
                if watch.degraded:
                    status = await row_status(kind, row_id)
            elif signal.kind == "event":
                if signal.data.get("event") == "status":
                    status = (signal.data.get("data") or {}).get("status", status)
            elif signal.kind == "ended":
                status = signal.data["status"]
            else:  # degraded, resync
                status = await row_status(kind, row_id)
        return status if is_final(status) else None


def refusal(exc: DomainError) -> JsonResponse:
    """The error answer of a refused long wait (caps, database outage), with Retry-After."""
    response = JsonResponse(error_body(exc.code, exc.message), status=exc.status_code)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def _admit(request, what: str, authenticators) -> tuple[SignedIn | None, Lease | None]:
    signed_in = sign_in(request, authenticators)
    if signed_in is None:
        return None, None
    return signed_in, lease_acquire(what=what, user_id=signed_in.user.pk)


async def admit_long_wait(
    request, *, what: str, authenticators=None
) -> tuple[SignedIn | None, Lease | None]:
    """Sign ``request`` in (with the API's authenticators, or the view's own
    ``authenticators`` classes) and take a slot of kind ``what`` for its user, in one short
    unit; (None, None) when nobody is signed in. Raises ``LongWaitRefused`` (caps) and
    ``DatabaseUnavailable``."""
    try:
        return await short_db_unit(_admit, request, what, authenticators)
    except DatabaseError as exc:
        raise DatabaseUnavailable() from exc


def requested_wait(request) -> int:
    """N of ``Prefer: wait=N`` (capped at ``ILLU_MAX_WAIT_SECONDS``), 0 without it."""
    match = _PREFER_WAIT.search(request.headers.get("Prefer", ""))
    if not match:
        return 0
    return min(int(match.group(1)), settings.ILLU_MAX_WAIT_SECONDS)


def prefers_wait(scope) -> bool:
    """Whether an ASGI request is a POST asking ``Prefer: wait=N``, N > 0."""
    if scope.get("method") != "POST":
        return False
    for name, value in scope.get("headers", ()):
        if name.lower() == b"prefer":
            match = _PREFER_WAIT.search(value.decode("latin-1"))
            if match and int(match.group(1)) > 0:
                return True
    return False


def prefer_wait(view: Callable, *, kind: WorkKind, rerender: Callable) -> Callable:
    """Wrap a sync DRF view that creates a row (answering it with its ``id``): with
    ``Prefer: wait=N`` the answer waits until the row ends or N s pass, then
    ``rerender(request, response, row_id)`` (sync) gives the fresh answer. Such a wait counts
    against ``ILLU_MAX_WAITS_PER_USER`` and the process cap (429/503 before anything is
    created)."""

    async def wrapped(request, *args, **kwargs):
        seconds = requested_wait(request) if request.method == "POST" else 0
        if not seconds:
            return await sync_to_async(view)(request, *args, **kwargs)
        try:
            signed_in, lease = await admit_long_wait(request, what=WAIT)
        except DomainError as exc:
            return refusal(exc)
        try:
            response = await short_db_unit(view, request, *args, **kwargs)
            row_id = getattr(response, "data", None) and response.data.get("id")
            if lease is None or response.status_code not in (200, 201) or not row_id:
                return response
            await wait_for_row_end(kind, str(row_id), seconds=seconds)
            return await short_db_unit(rerender, request, response, str(row_id))
        finally:
            if lease is not None:
                await lease.aclose()

    wrapped.csrf_exempt = True
    # The schema generator finds DRF views by these attributes of the URL callback.
    wrapped.cls = view.cls
    wrapped.initkwargs = view.initkwargs
    return long_wait(wrapped, when=prefers_wait)
