"""Short database units for async views that wait long (event streams, ``Prefer: wait``).

A unit runs one sync function in a thread of its own and closes (with a pool: gives back) the
database connection it used before it returns, so a view holds neither a thread nor a
connection while it waits. At most ``ILLU_LONG_WAIT_DB_UNITS`` units of one process run at
once (others wait their turn on the event loop), so a crowd of streams signing in at once
takes at most that many connections. Under the test client, whose sync caller owns the test
transaction, a unit runs on that caller's thread (asgiref's rule for thread-sensitive calls)
and leaves a connection inside a transaction open."""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.db import connections

T = TypeVar("T")

_units_at_once: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _semaphore() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    semaphore = _units_at_once.get(loop)
    if semaphore is None:
        semaphore = _units_at_once[loop] = asyncio.Semaphore(settings.ILLU_LONG_WAIT_DB_UNITS)
    return semaphore


def _giving_back_connections(function: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(function)
    def unit(*args, **kwargs) -> T:
        try:
            return function(*args, **kwargs)
        finally:
            for connection in connections.all(initialized_only=True):
                if not connection.in_atomic_block:
                    connection.close()

    return unit


async def short_db_unit(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` in a thread of its own; its connections are closed (or
    given back to the pool) when it returns. Database errors propagate."""
    # The outermost thread-sensitive context gets a new thread that ends with it; inside
    # Django's own per-request context it is a no-op and the unit runs on that thread.
    async with _semaphore(), ThreadSensitiveContext():
        return await sync_to_async(_giving_back_connections(function))(*args, **kwargs)
