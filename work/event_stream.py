"""The one Server-Sent Events stream of a row of background work (``GET .../{id}/events/``),
with per-kind hooks (``EventStream``); jobs and trainings each subclass it.

A client first gets the current ``status``, the kind's opening events and the progress its
worker reported; then every forwarded event as it is published, a keep-alive comment every
15 s, and after the final status the kind's closing events (the finished resource). The
requester is whoever the token or session names, acting for ``user_id`` when allowed
(core.acting); a row they may not see is a 404.

What a stream holds while it waits: no thread and no database connection (it signs in and
reads in short units, ``core.db_units``, and is served by ``core.long_waits``' handler), one
watch on the process's shared Redis subscription (``work.waiting.follow_row``) and one slot
under the caps (``work.long_wait_caps``: 429 or 503 with ``Retry-After`` beyond). A database
that does not answer at sign-in is a 503, never a 401. The row is read again only when a
signal says it may have changed: Redis came back, the stream guard found it ended, or, while
Redis does not answer, every second. Every ``ILLU_STREAM_AUTH_RECHECK_SECONDS`` the guard
checks the credential: a revoked token, a signed-out session or a deactivated user ends the
stream with an ``error`` event ``{"code": "not_authenticated", ...}``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import Error as DatabaseError
from django.db.models import QuerySet
from django.http import JsonResponse, StreamingHttpResponse
from rest_framework.exceptions import APIException

from core.acting import acting_user
from core.api_errors import api_exception_handler, error_body
from core.db_units import short_db_unit
from core.errors import DomainError
from core.long_waits import long_wait

from .kinds import WorkKind
from .long_wait_caps import STREAM, Lease, lease_acquire
from .long_wait_sign_in import Credential, DatabaseUnavailable, sign_in
from .models import Work, WorkStatus
from .progress import reported_progress
from .waiting import follow_row, is_final, refusal, row_status

KEEPALIVE_SECONDS = 15.0
Event = tuple[str, Any]
REVOKED = {
    "code": "not_authenticated",
    "message": "The token or session that opened this stream no longer signs you in.",
}
GONE = {"code": "not_found", "message": "This row no longer exists."}


def sse_message(event: str, data) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


def error_response(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


@dataclass
class Admitted:
    row_id: str
    credential: Credential
    lease: Lease


class LeasedStreamingResponse(StreamingHttpResponse):
    """Gives its slot back when closed, also when its stream never started (a client that
    left before the first byte)."""

    def __init__(self, *args, lease: Lease, **kwargs):
        super().__init__(*args, **kwargs)
        self.lease = lease

    def close(self):
        self.lease.release()
        super().close()


class EventStream:
    """The stream of one kind; a subclass sets ``kind`` and overrides the hooks it needs."""

    kind: WorkKind
    url_kwarg = "row_id"  # the URL's name for the row id
    forwarded: tuple[str, ...] = ("progress", "status")  # published events passed on

    def visible(self, user) -> QuerySet:
        """The rows ``user`` may stream."""
        raise NotImplementedError

    def opening_events(self, row: Work) -> Iterable[Event]:
        """After the current status, before the progress (a queued job's position)."""
        return ()

    def progress_events(self, progress: dict[str, Any]) -> Iterable[Event]:
        return [("progress", progress)]

    def quiet_events(self, row: Work) -> Iterable[Event]:
        """At each keep-alive while the row is queued (a queued job's new position)."""
        return ()

    def closing_events(self, row: Work, request) -> Iterable[Event]:
        """After the final status: the finished resource, at least."""
        return ()

    @property
    def view(self):
        """The async view of ``GET .../{id}/events/`` (a long wait, ``core.long_waits``)."""

        async def events_view(request, **url_kwargs):
            return await self._respond(request, url_kwargs[self.url_kwarg])

        return long_wait(events_view)

    # ----------------------------------------------------------------------------------

    def _admit(self, request, row_id) -> tuple[Admitted | None, JsonResponse | None]:
        signed_in = sign_in(request)
        if signed_in is None:
            message = "Authentication credentials were not provided."
            return None, error_response(401, "not_authenticated", message)
        try:
            owner = acting_user(request, requester=signed_in.user)
        except (DomainError, APIException) as exc:  # the API's 403 and 404, same bodies
            refused = api_exception_handler(exc, {})
            return None, JsonResponse(refused.data, status=refused.status_code)
        row = self.visible(owner).filter(pk=row_id).values_list("pk", flat=True).first()
        if row is None:
            return None, error_response(404, "not_found", "Not found.")
        lease = lease_acquire(what=STREAM, user_id=signed_in.user.pk)
        return Admitted(str(row), signed_in.credential, lease), None

    def _opening(self, row_id: str) -> list[Event]:
        row = self.kind.model.objects.filter(pk=row_id).first()
        if row is None:
            return [("error", GONE)]
        events = [("status", {"status": row.status}), *self.opening_events(row)]
        progress = reported_progress(self.kind, row)
        if progress is not None:
            events += self.progress_events(progress)
        return events

    def _quiet(self, row_id: str) -> list[Event]:
        row = self.kind.model.objects.filter(pk=row_id).first()
        return [] if row is None else list(self.quiet_events(row))

    def _closing(self, row_id: str, request, announced: str | None) -> list[Event]:
        row = self.kind.model.objects.filter(pk=row_id).first()
        if row is None:
            return [("error", GONE)]
        events = []
        if row.status != announced:  # its final event was lost: the guard or a poll saw it
            events.append(("status", {"status": row.status, "error": row.error}))
        return events + list(self.closing_events(row, request))

    def _has_quiet_events(self) -> bool:
        return type(self).quiet_events is not EventStream.quiet_events

    async def _respond(self, request, row_id):
        try:
            admitted, refused = await short_db_unit(self._admit, request, row_id)
        except DatabaseError:
            return refusal(DatabaseUnavailable())
        except DomainError as exc:  # over a cap; the database
            return refusal(exc)
        if refused is not None:
            return refused
        response = LeasedStreamingResponse(
            self._events(request, admitted), content_type="text/event-stream", lease=admitted.lease
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response

    async def _events(self, request, admitted: Admitted) -> AsyncIterator[bytes]:
        row_id = admitted.row_id
        try:
            async with follow_row(self.kind, row_id, credential=admitted.credential) as watch:
                opening = await short_db_unit(self._opening, row_id)
                for event, data in opening:
                    yield sse_message(event, data)
                if opening[0][0] == "error":
                    return
                status = announced = opening[0][1]["status"]
                while not is_final(status):
                    signal = await watch.next(timeout=KEEPALIVE_SECONDS)
                    if signal is None:  # quiet: keep-alive (each second while degraded)
                        yield b": keep-alive\n\n"
                        if watch.degraded:
                            status = await row_status(self.kind, row_id)
                        if status == WorkStatus.QUEUED and self._has_quiet_events():
                            for event, data in await short_db_unit(self._quiet, row_id):
                                yield sse_message(event, data)
                    elif signal.kind == "revoked":
                        yield sse_message("error", REVOKED)
                        return
                    elif signal.kind == "event":
                        event, data = signal.data.get("event"), signal.data.get("data") or {}
                        if event in self.forwarded:
                            yield sse_message(event, data)
                        if event == "status":
                            status = announced = data.get("status", status)
                    elif signal.kind == "ended":
                        status = signal.data["status"]
                    else:  # degraded or resync: events may have been missed
                        status = await row_status(self.kind, row_id)
                    if status is None:  # deleted meanwhile
                        yield sse_message("error", GONE)
                        return
                closing = await short_db_unit(self._closing, row_id, request, announced)
            for event, data in closing:
                yield sse_message(event, data)
        finally:
            await admitted.lease.aclose()
