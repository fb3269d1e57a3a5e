"""Async helpers shared by the long-lived job views (Prefer: wait, Server-Sent Events):
they wait on Redis pub/sub without holding one of Django's sync threads."""

from __future__ import annotations

import json

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings

from ..models import FINISHED_STATUSES, GenerationJob
from ..signals_redis import events_channel


def _job_status(job_id: str) -> str | None:
    return GenerationJob.objects.filter(pk=job_id).values_list("status", flat=True).first()


job_status = sync_to_async(_job_status)


class JobSubscription:
    """Subscribed on entry, so checking the database afterwards can miss no event."""

    def __init__(self, job_id: str):
        self.job_id = job_id

    async def __aenter__(self) -> JobSubscription:
        self.client = aioredis.from_url(settings.REDIS_URL)
        self.pubsub = self.client.pubsub()
        await self.pubsub.subscribe(events_channel(self.job_id))
        return self

    async def next(self, timeout: float) -> dict | None:
        """The next published event, or None after ``timeout`` s of silence."""
        message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)
        return json.loads(message["data"]) if message else None

    async def __aexit__(self, *exc_info) -> None:
        await self.pubsub.unsubscribe()
        await self.pubsub.aclose()
        await self.client.aclose()


def is_final(status: str | None) -> bool:
    return status in FINISHED_STATUSES
