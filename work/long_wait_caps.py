"""Caps on long waits (event streams and ``Prefer: wait``): per user and per web process.

- Per process: at most ``ILLU_MAX_STREAMS_PER_PROCESS`` streams and waits together are open
  in one web process (503 ``unavailable`` beyond). Counted in memory: a crashed process takes
  its counts with it.
- Per user: at most ``ILLU_MAX_STREAMS_PER_USER`` streams and ``ILLU_MAX_WAITS_PER_USER``
  waits open at once across every web process (429 ``throttled`` beyond). Counted in Redis:
  one sorted set per user and kind, a member per open stream whose score is the moment it
  expires; the stream guard (``work.stream_guard``) pushes that moment forward while the
  stream lives, so the members of a crashed process vanish within ``LEASE_TTL_SECONDS``.
  While Redis does not answer, the count of this process stands in for it.

Both answers carry ``Retry-After``. A slot is a ``Lease``: taken in the sign-in unit, given back
once when the stream or wait ends (``release``; safe to call again, from any thread)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from redis.exceptions import RedisError

from core.errors import DomainError

from .redis_queue import get_redis

STREAM = "stream"
WAIT = "wait"
RETRY_AFTER_SECONDS = 5

_ADMIT = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], t + tonumber(ARGV[2]), ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 1)
return 1
"""
_REFRESH = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', t + tonumber(ARGV[1]), ARGV[i + 1])
  redis.call('EXPIRE', key, math.ceil(tonumber(ARGV[1])) + 1)
end
return #KEYS
"""


def lease_ttl_seconds() -> float:
    """How long a slot outlives its last refresh (three guard rounds, at least 30 s)."""
    return max(30.0, 3.0 * settings.ILLU_STREAM_AUTH_RECHECK_SECONDS)


class LongWaitRefused(DomainError):
    """Over a cap: 429 ``throttled`` (the user's) or 503 ``unavailable`` (the process's)."""

    def __init__(self, message: str, *, status_code: int, code: str):
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.retry_after = RETRY_AFTER_SECONDS


@dataclass(eq=False)
class Lease:
    what: str
    user_id: int
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    in_redis: bool = False
    released: bool = False

    @property
    def key(self) -> str:
        return f"illu:long-waits:{self.what}:{self.user_id}"

    def release(self) -> Future | None:
        """Give the slot back: the process count at once, the Redis member from a small pool
        of threads (an event loop never blocks on Redis; the future says when it is gone).
        Only the first call acts; safe from any thread."""
        with _lock:
            if self.released:
                return None
            self.released = True
            _live.pop(self.id, None)
            _in_process[None] -= 1
            _in_process[(self.what, self.user_id)] -= 1
            if not _in_process[(self.what, self.user_id)]:
                del _in_process[(self.what, self.user_id)]
        if not self.in_redis:
            return None
        return _redis_releases().submit(self._release_in_redis)

    async def aclose(self) -> None:
        """``release``, then wait until Redis has dropped the member, so that a client who
        opens its next stream or wait as soon as this one answered finds its slot free."""
        removed = self.release()
        if removed is not None:
            with contextlib.suppress(Exception):
                await asyncio.wrap_future(removed)

    def _release_in_redis(self) -> None:
        with contextlib.suppress(RedisError):  # else it expires after lease_ttl_seconds()
            get_redis().zrem(self.key, self.id)


_lock = threading.Lock()
# None: every long wait of the process; (what, user id): one user's of one kind.
_in_process: Counter = Counter()
_live: dict[str, Lease] = {}


@lru_cache(maxsize=1)
def _redis_releases() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="long-wait-release")


def _user_cap(what: str) -> int:
    if what == STREAM:
        return settings.ILLU_MAX_STREAMS_PER_USER
    return settings.ILLU_MAX_WAITS_PER_USER


def lease_acquire(*, what: str, user_id: int) -> Lease:
    """A slot for one more stream (``STREAM``) or wait (``WAIT``) of ``user_id``, or
    ``LongWaitRefused``. Sync (Redis): call it inside a short unit."""
    lease = Lease(what=what, user_id=user_id)
    with _lock:
        if _in_process[None] >= settings.ILLU_MAX_STREAMS_PER_PROCESS:
            raise LongWaitRefused(
                "This server has as many open event streams and waits as it serves; "
                "try again shortly.",
                status_code=503,
                code="unavailable",
            )
        _in_process[None] += 1
        _in_process[(what, user_id)] += 1
        _live[lease.id] = lease
        mine_here = _in_process[(what, user_id)]
    cap = _user_cap(what)
    try:
        script = get_redis().register_script(_ADMIT)
        admitted = bool(script(keys=[lease.key], args=[cap, lease_ttl_seconds(), lease.id]))
        lease.in_redis = admitted
    except RedisError:
        admitted = mine_here <= cap  # this process's count stands in for the user's
    if not admitted:
        lease.release()
        noun = "event streams" if what == STREAM else "waiting requests"
        raise LongWaitRefused(
            f"Too many open {noun}: at most {cap} at once per user. Close one or try again "
            "shortly.",
            status_code=429,
            code="throttled",
        )
    return lease


def leases_refresh() -> None:
    """Push the expiry of every live slot of this process forward (the stream guard calls
    this each round; sync, Redis). Only members still there are touched (``XX``): a slot
    released meanwhile is never put back; one Redis lost (a restart) stays uncounted."""
    with _lock:
        leases = [lease for lease in _live.values() if lease.in_redis]
    if not leases:
        return
    script = get_redis().register_script(_REFRESH)
    for start in range(0, len(leases), 500):
        chunk = leases[start : start + 500]
        try:
            script(
                keys=[lease.key for lease in chunk],
                args=[lease_ttl_seconds(), *[lease.id for lease in chunk]],
            )
        except RedisError:
            return


def open_in_process() -> int:
    """Streams and waits open in this process right now."""
    with _lock:
        return _in_process[None]
