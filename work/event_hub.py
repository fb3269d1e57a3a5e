"""One Redis pub/sub connection per web process (per event loop), fanned out to every event
stream and wait the process serves: each waiter holds a ``Watch`` on its row's channel, and
the hub's one reader task delivers each published event to the watches of its channel. A
channel is subscribed while at least one watch holds it; the connection is closed when the
last watch ends.

While Redis does not answer (at the start or later) the hub is ``degraded``: watches are told
(a ``degraded`` signal) and their ``next`` returns None every ``DEGRADED_POLL_SECONDS``, so
their callers read the row instead; the reader reconnects every ``RECONNECT_SECONDS`` and,
once back, every watch gets a ``resync`` signal (events may have been missed meanwhile).

Used by ``work.following`` only; never holds a database connection or a thread."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# While Redis does not answer, callers re-read the row this often.
DEGRADED_POLL_SECONDS = 1.0
RECONNECT_SECONDS = 1.0
# Events a watch keeps for a reader that does not keep up; past that it gets one ``resync``.
WATCH_BACKLOG = 1000


@dataclass(frozen=True)
class Signal:
    """What a watch is told: ``event`` (a published event: ``data`` is ``{"event", "data"}``),
    ``degraded`` (Redis stopped answering), ``resync`` (events may have been missed: re-read
    the row), ``ended`` (the row has ended: ``data`` is ``{"status"}``) or ``revoked`` (the
    credential that opened the stream no longer signs its user in)."""

    kind: str
    data: dict[str, Any] | None = None


class Watch:
    """One waiter's view of a channel."""

    def __init__(self, hub: EventHub, channel: str):
        self.hub = hub
        self.channel = channel
        self._signals: asyncio.Queue[Signal] = asyncio.Queue(maxsize=WATCH_BACKLOG)
        self._overflowed = False

    @property
    def degraded(self) -> bool:
        return self.hub.degraded

    def deliver(self, signal: Signal) -> None:
        try:
            self._signals.put_nowait(signal)
        except asyncio.QueueFull:
            self._overflowed = True

    async def next(self, timeout: float) -> Signal | None:
        """The next signal, or None after ``timeout`` s of silence (at most
        ``DEGRADED_POLL_SECONDS`` while the hub is degraded)."""
        if self._overflowed and self._signals.empty():
            self._overflowed = False
            return Signal("resync")
        if self.hub.degraded:
            timeout = min(timeout, DEGRADED_POLL_SECONDS)
        try:
            async with asyncio.timeout(max(0.0, timeout)):
                return await self._signals.get()
        except TimeoutError:
            return None


class EventHub:
    """The fan-out of one event loop (see the module docstring)."""

    def __init__(self) -> None:
        self._watches: dict[str, set[Watch]] = {}
        self._confirmations: dict[str, list[asyncio.Future]] = {}
        self._confirmed: set[str] = set()  # subscribed on the current connection
        self._pubsub: aioredis.client.PubSub | None = None
        self._reader: asyncio.Task | None = None
        self.degraded = False

    @property
    def channels(self) -> int:
        return len(self._watches)

    def watches(self) -> list[Watch]:
        return [watch for watches in self._watches.values() for watch in watches]

    @contextlib.asynccontextmanager
    async def watch(self, channel: str) -> AsyncIterator[Watch]:
        """A watch on ``channel``, subscribed (or the hub degraded) on entry, so that reading
        the row afterwards misses no event."""
        watch = Watch(self, channel)
        first = channel not in self._watches
        self._watches.setdefault(channel, set()).add(watch)
        try:
            await self._subscribed(channel, send=first)
            yield watch
        finally:
            self._leave(watch)

    async def _subscribed(self, channel: str, *, send: bool) -> None:
        if channel in self._confirmed:
            return
        confirmed = asyncio.get_running_loop().create_future()
        self._confirmations.setdefault(channel, []).append(confirmed)
        if self._reader is None or self._reader.done():
            # The reader subscribes every channel watched when it connects.
            self._reader = asyncio.get_running_loop().create_task(self._read())
        elif self.degraded:
            self._confirm(channel)
        elif send and self._pubsub is not None:
            try:
                await self._pubsub.subscribe(channel)
            except (RedisError, OSError):
                self._confirm(channel)  # the reader notices the outage too
        timeout = settings.ILLU_REDIS_CONNECT_TIMEOUT + settings.ILLU_REDIS_SOCKET_TIMEOUT
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.shield(confirmed)

    def _confirm(self, channel: str) -> None:
        if channel in self._watches and not self.degraded:
            self._confirmed.add(channel)
        for future in self._confirmations.pop(channel, []):
            if not future.done():
                future.set_result(None)

    def _confirm_all(self) -> None:
        for channel in list(self._confirmations):
            self._confirm(channel)

    def _leave(self, watch: Watch) -> None:
        watches = self._watches.get(watch.channel)
        if watches is None:
            return
        watches.discard(watch)
        if watches:
            return
        del self._watches[watch.channel]
        self._confirmed.discard(watch.channel)
        if not self._watches:
            if self._reader is not None:
                self._reader.cancel()
                self._reader = None
            return
        if self._pubsub is not None and not self.degraded:
            pubsub = self._pubsub

            async def unsubscribe() -> None:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.unsubscribe(watch.channel)

            asyncio.get_running_loop().create_task(unsubscribe())

    def _tell_all(self, signal: Signal) -> None:
        for watch in self.watches():
            watch.deliver(signal)

    async def _read(self) -> None:
        """Connect, subscribe every watched channel, deliver messages; on a Redis error go
        degraded and reconnect. Ends (closing the connection) when cancelled."""
        while self._watches:
            client = aioredis.from_url(
                settings.REDIS_URL,
                socket_connect_timeout=settings.ILLU_REDIS_CONNECT_TIMEOUT,
                retry=Retry(NoBackoff(), 0),  # the hub reconnects itself
            )
            pubsub = client.pubsub()
            try:
                await pubsub.connect()
                self._pubsub = pubsub
                await pubsub.subscribe(*self._watches)
                if self.degraded:
                    self.degraded = False
                    logger.info("event hub: Redis answers again; streams re-read their rows")
                    self._tell_all(Signal("resync"))
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is not None:
                        self._dispatch(message)
            except (RedisError, OSError) as exc:
                self._confirmed.clear()
                if not self.degraded:
                    logger.warning("event hub: Redis not answering (%s); streams poll rows", exc)
                    self.degraded = True
                    self._tell_all(Signal("degraded"))
                self._confirm_all()
            finally:
                if self._pubsub is pubsub:
                    self._pubsub = None
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
                with contextlib.suppress(RedisError, OSError):
                    await client.aclose()
            await asyncio.sleep(RECONNECT_SECONDS)

    def _dispatch(self, message: dict) -> None:
        channel = message["channel"]
        channel = channel.decode() if isinstance(channel, bytes) else channel
        if message["type"] == "subscribe":
            self._confirm(channel)
            return
        if message["type"] != "message":
            return
        try:
            payload = json.loads(message["data"])
        except ValueError:
            logger.warning("event hub: unreadable event on %s dropped", channel)
            return
        for watch in list(self._watches.get(channel, ())):
            watch.deliver(Signal("event", payload))


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, EventHub] = weakref.WeakKeyDictionary()


def event_hub() -> EventHub:
    """The hub of the running event loop (one per web process under uvicorn)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = EventHub()
    return hub
