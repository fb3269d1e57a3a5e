"""A worker's heartbeat: a daemon thread writes the worker's state to a Redis hash with a TTL
(``<prefix><name>``), so the reconciler can tell a worker that is gone from one that is busy.
GPU workers beat under ``work.workers.KEY_PREFIX`` (gpu_worker/heartbeat.py adds their device
and models); export workers under their own prefix (``exports.heartbeat``), so that counts of
GPU workers (queue position, health, metrics) never include them."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from .workers import KEY_PREFIX

logger = logging.getLogger(__name__)


def write_heartbeat(
    redis: Redis, state: dict[str, Any], ttl: int, prefix: str = KEY_PREFIX
) -> None:
    key = prefix + state["name"]
    mapping = {k: json.dumps(v) if isinstance(v, list) else str(v) for k, v in state.items()}
    with redis.pipeline() as pipe:
        pipe.delete(key)  # a field that went away (current_job) must not linger
        pipe.hset(key, mapping=mapping)
        pipe.expire(key, ttl)
        pipe.execute()


def remove_heartbeat(redis: Redis, name: str, prefix: str = KEY_PREFIX) -> None:
    redis.delete(prefix + name)


class Heartbeat(threading.Thread):
    """Writes ``state_fn()`` every ``interval`` seconds under ``prefix`` until stopped; Redis
    errors are logged and retried on the next beat, never raised into the worker."""

    def __init__(
        self,
        redis: Redis,
        state_fn: Callable[[], dict[str, Any]],
        *,
        interval: float,
        ttl: int,
        prefix: str = KEY_PREFIX,
    ):
        super().__init__(name="illu-heartbeat", daemon=True)
        self.redis = redis
        self.state_fn = state_fn
        self.interval = interval
        self.ttl = ttl
        self.prefix = prefix
        self._stop_event = threading.Event()
        # A beat and the final removal never interleave: a beat still writing when stop()
        # runs (a slow Redis, a busy machine) finishes first, and none starts after it.
        self._write_lock = threading.Lock()
        self._name: str | None = None

    def beat(self) -> None:
        state = self.state_fn()
        with self._write_lock:
            if self._stop_event.is_set():
                return
            self._name = state["name"]
            write_heartbeat(self.redis, state, self.ttl, self.prefix)

    def run(self) -> None:
        failing = False
        while not self._stop_event.is_set():
            try:
                self.beat()
                failing = False
            except (RedisError, OSError, RuntimeError) as exc:
                # RuntimeError: the model list changed while being read; next beat reads again.
                if not failing:
                    logger.warning("heartbeat failed: %s", exc)
                failing = True
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        """Stop beating and remove the hash, so a stopped worker disappears at once."""
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=self.interval + 5)
        with self._write_lock:
            if not self._name:
                return
            try:
                remove_heartbeat(self.redis, self._name, self.prefix)
            except RedisError as exc:
                logger.warning("could not remove heartbeat: %s", exc)
