"""The one Server-Sent Events stream of a row of background work (``GET .../{id}/events/``),
with per-kind hooks (``EventStream``); jobs and trainings each subclass it.

A client first gets the current ``status``, the kind's opening events and the progress its
worker reported; then every forwarded event as it is published, a keep-alive comment every
15 s, and after the final status the kind's closing events (the finished resource). Without
Redis the stream polls the row instead (``WorkSubscription``). The requester is whoever the
token or session names, acting for ``user_id`` when allowed (core.acting); a row they may
not see is a 404."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from asgiref.sync import sync_to_async
from django.db.models import QuerySet
from django.http import JsonResponse, StreamingHttpResponse
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.settings import api_settings

from core.acting import acting_user
from core.api_errors import api_exception_handler, error_body
from core.errors import DomainError

from .kinds import WorkKind
from .models import Work
from .progress import reported_progress
from .subscription import WorkSubscription, is_final, row_status

KEEPALIVE_SECONDS = 15.0
Event = tuple[str, Any]


def sse_message(event: str, data) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


def error_response(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def authenticated_user(request):
    """The user the API's authenticators (token, session, ...) find, or None."""
    authenticators = [cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES]
    try:
        user = Request(request, authenticators=authenticators).user
    except Exception:
        return None
    return user if user is not None and user.is_authenticated else None


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
        """At each keep-alive while the row is unfinished (a queued job's new position)."""
        return ()

    def closing_events(self, row: Work, request) -> Iterable[Event]:
        """After the final status: the finished resource, at least."""
        return ()

    # ----------------------------------------------------------------------------------

    def _requested_row(self, request, row_id) -> tuple[Work | None, JsonResponse | None]:
        user = authenticated_user(request)
        if user is None:
            message = "Authentication credentials were not provided."
            return None, error_response(401, "not_authenticated", message)
        try:
            owner = acting_user(request, requester=user)
        except (DomainError, APIException) as exc:  # the API's 403 and 404, same bodies
            refused = api_exception_handler(exc, {})
            return None, JsonResponse(refused.data, status=refused.status_code)
        row = self.visible(owner).filter(pk=row_id).first()
        if row is None:
            return None, error_response(404, "not_found", "Not found.")
        return row, None

    def _opening(self, row_id: str) -> list[Event]:
        row = self.kind.model.objects.get(pk=row_id)
        events = [("status", {"status": row.status}), *self.opening_events(row)]
        progress = reported_progress(self.kind, row)
        if progress is not None:
            events += self.progress_events(progress)
        return events

    def _quiet(self, row_id: str) -> list[Event]:
        return list(self.quiet_events(self.kind.model.objects.get(pk=row_id)))

    def _closing(self, row_id: str, request) -> list[Event]:
        return list(self.closing_events(self.kind.model.objects.get(pk=row_id), request))

    async def view(self, request, **url_kwargs):
        row_id = url_kwargs[self.url_kwarg]
        row, refused = await sync_to_async(self._requested_row)(request, row_id)
        if refused is not None:
            return refused
        row_id = str(row.id)

        async def stream():
            async with WorkSubscription(row_id) as subscription:
                opening = await sync_to_async(self._opening)(row_id)
                for event, data in opening:
                    yield sse_message(event, data)
                final = is_final(opening[0][1]["status"])
                while not final:
                    message = await subscription.next(timeout=KEEPALIVE_SECONDS)
                    if message is None:
                        yield b": keep-alive\n\n"
                        final = is_final(await row_status(self.kind, row_id))
                        if not final:
                            for event, data in await sync_to_async(self._quiet)(row_id):
                                yield sse_message(event, data)
                        continue
                    if message["event"] in self.forwarded:
                        yield sse_message(message["event"], message["data"])
                    final = message["event"] == "status" and is_final(message["data"].get("status"))
            for event, data in await sync_to_async(self._closing)(row_id, request):
                yield sse_message(event, data)

        response = StreamingHttpResponse(stream(), content_type="text/event-stream")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response
