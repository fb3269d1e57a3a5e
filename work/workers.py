"""Which GPU workers are alive: the heartbeat hashes (``illu:worker:<name>``) that each worker
writes with a TTL (gpu_worker/heartbeat.py), read by the reconciler, metrics and health."""

from __future__ import annotations

import json
import time
from typing import Any

from redis import Redis

KEY_PREFIX = "illu:worker:"
_INT_FIELDS = (
    "memory_total",
    "memory_used",
    "memory_reserved",
    "pid",
    "compile_graphs_after_warmup",
    "compile_eager_fallbacks",
    "memory_budget",
    "model_room",
    "model_switches",
)


def live_workers(redis: Redis | None = None, prefix: str = KEY_PREFIX) -> list[dict[str, Any]]:
    """Every worker whose heartbeat (under ``prefix``: GPU workers by default) has not expired,
    sorted by name, with typed fields."""
    if redis is None:
        from .redis_queue import get_redis

        redis = get_redis()
    keys = sorted(redis.scan_iter(match=prefix + "*", count=500))
    if not keys:
        return []
    with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hgetall(key)
        raw_states = pipe.execute()
    return [_decode(raw) for raw in raw_states if raw]


def _decode(raw: dict[bytes, bytes]) -> dict[str, Any]:
    state: dict[str, Any] = {k.decode(): v.decode() for k, v in raw.items()}
    for field in _INT_FIELDS:
        state[field] = int(state.get(field) or 0)
    state["time"] = float(state.get("time") or 0)
    state["age_s"] = max(0.0, time.time() - state["time"])
    state["models"] = json.loads(state.get("models") or "[]")
    # Slugs of the base models on its device (routing, the models API, health, the fleet page).
    state["resident_models"] = json.loads(state.get("resident_models") or "[]")
    state["host_models"] = json.loads(state.get("host_models") or "[]")
    state["jobs"] = json.loads(state.get("jobs") or "[]")  # every job it holds (batch, storing)
    state["current_job"] = state.get("current_job") or None
    return state


def live_worker_states(prefix: str = KEY_PREFIX) -> dict[str, dict]:
    """Each live worker's heartbeat state by name (current job, and every job it holds)."""
    return {worker["name"]: worker for worker in live_workers(prefix=prefix)}


def worker_holds(live: dict[str, dict], worker_name: str, row_id: str) -> bool:
    """Whether the live worker ``worker_name`` still holds the row: running it (or between
    heartbeats), or holding it in a batch or its storage stage."""
    worker = live.get(worker_name)
    if worker is None:
        return False
    return worker.get("current_job") in (row_id, None) or row_id in worker.get("jobs", [])
