"""Waiting on a row's events from async views (Server-Sent Events, ``Prefer: wait``): they
wait on Redis pub/sub without holding one of Django's sync threads or a database connection."""

from __future__ import annotations

import asyncio
import contextlib
import json

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from redis.exceptions import RedisError

from .models import FINISHED_STATUSES
from .redis_channel import events_channel


def _row_status(kind, row_id: str) -> str | None:
    return kind.model.objects.filter(pk=row_id).values_list("status", flat=True).first()


row_status = sync_to_async(_row_status)

# While Redis does not answer, callers re-read the status from the database this often.
DEGRADED_POLL_SECONDS = 1.0


class WorkSubscription:
    """Subscribed on entry, so checking the database afterwards can miss no event.

    Without Redis (an outage, before or during the subscription) ``next`` returns None every
    ``DEGRADED_POLL_SECONDS``, so its callers fall back to polling the row: the views keep
    answering instead of failing."""

    def __init__(self, row_id: str):
        self.row_id = row_id
        self.degraded = False

    async def __aenter__(self) -> WorkSubscription:
        self.client = aioredis.from_url(
            settings.REDIS_URL, socket_connect_timeout=settings.ILLU_REDIS_CONNECT_TIMEOUT
        )
        self.pubsub = self.client.pubsub()
        try:
            await self.pubsub.subscribe(events_channel(self.row_id))
        except RedisError:
            self.degraded = True
        return self

    async def next(self, timeout: float) -> dict | None:
        """The next published event, or None after ``timeout`` s of silence."""
        if not self.degraded:
            try:
                message = await self.pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=timeout
                )
                return json.loads(message["data"]) if message else None
            except RedisError:
                self.degraded = True
        await asyncio.sleep(min(timeout, DEGRADED_POLL_SECONDS))
        return None

    async def __aexit__(self, *exc_info) -> None:
        with contextlib.suppress(RedisError):
            await self.pubsub.unsubscribe()
        with contextlib.suppress(RedisError):
            await self.pubsub.aclose()
            await self.client.aclose()


def is_final(status: str | None) -> bool:
    return status in FINISHED_STATUSES
