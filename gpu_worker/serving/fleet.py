"""What checkpoint-aware routing reads besides the queue: the live workers' heartbeats as
``WorkerView``s, and how often each queued job was skipped for another job whose model a
worker holds. The counts live in one Redis hash shared by every worker, so a job's bound
(ILLU_MODEL_AFFINITY_MAX_PASS) holds across the whole fleet, not per worker.

A worker that left a job to the workers holding its model waits for the fleet to move (the
next batch another worker claims, or ``HOLDER_WAIT_S``) before it looks again, rather than
looking again at once: each look counts one pass-over, so the bound is reached in claims,
not in how fast an idle worker can spin."""

from __future__ import annotations

import json
import logging

from redis.exceptions import RedisError

from generation.queue.scheduling import WorkerView
from work.redis_queue import get_redis
from work.workers import KEY_PREFIX, live_workers

logger = logging.getLogger(__name__)

ROUTED_KEY = "illu:routing:passed-over"
WAITING_KEY = "illu:routing:waiting"  # workers waiting for the fleet to move
WAKE_KEY = "illu:routing:wake:"  # + worker name: a list a claim pushes to
HOLDER_WAIT_S = 2  # the longest a worker waits before it looks at the queue again


def fleet_view() -> dict[str, WorkerView]:
    """Every live worker by name, as routing sees it (none when Redis cannot say)."""
    try:
        workers = live_workers()
    except RedisError as exc:
        logger.warning("routing without the fleet's heartbeats: %s", exc)
        return {}
    return {
        worker["name"]: WorkerView(
            name=worker["name"],
            resident=frozenset(worker.get("resident_models", [])),
            busy=worker.get("current_job") is not None,
            room=int(worker.get("model_room", 0)),
        )
        for worker in workers
    }


def routed_counts(job_ids: list[str]) -> dict[str, int]:
    if not job_ids:
        return {}
    try:
        values = get_redis().hmget(ROUTED_KEY, job_ids)
    except RedisError:
        return {}
    return {job_id: int(value) for job_id, value in zip(job_ids, values, strict=True) if value}


def count_routed(skipped: list[str], claimed: list[str]) -> None:
    """One more pass-over for each skipped job; claimed jobs need no count any more."""
    if not skipped and not claimed:
        return
    try:
        with get_redis().pipeline() as pipe:
            for job_id in skipped:
                pipe.hincrby(ROUTED_KEY, job_id, 1)
            if claimed:
                pipe.hdel(ROUTED_KEY, *claimed)
            pipe.execute()
    except RedisError as exc:
        logger.warning("could not count routing pass-overs: %s", exc)


def wait_for_the_fleet(connection, me: str, timeout: int = HOLDER_WAIT_S) -> None:
    """Block until another worker claims a batch or ``timeout`` seconds pass. ``connection``
    is the worker's own (its read timeout allows blocking calls)."""
    wake = WAKE_KEY + me
    try:
        connection.delete(wake)
        connection.sadd(WAITING_KEY, me)
        connection.blpop([wake], timeout=timeout)
        connection.srem(WAITING_KEY, me)
    except RedisError as exc:
        logger.warning("could not wait for the fleet: %s", exc)


def wake_waiting_workers(me: str) -> None:
    """Tell the workers waiting for the fleet that ``me`` just claimed a batch."""
    try:
        redis = get_redis()
        names = [_text(name) for name in redis.smembers(WAITING_KEY)]
        with redis.pipeline() as pipe:
            for name in names:
                if name != me:
                    pipe.rpush(WAKE_KEY + name, 1)
                    pipe.expire(WAKE_KEY + name, 60)
            pipe.execute()
    except RedisError as exc:
        logger.warning("could not wake the waiting workers: %s", exc)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def with_arriving(resident: list[str], model: str | None, room: int) -> list[str]:
    """The models a worker holds once the one it is serving now is loaded: that model joins,
    and with no room the least recently used one (listed first) leaves. Routing reads this
    from the moment of the claim, not from the heartbeat after a load of seconds."""
    if not model or model in resident:
        return resident
    kept = resident if room > 0 else resident[1:]
    return [*kept, model]


def announce_model(me: str, view: WorkerView | None, model: str) -> None:
    """Put the model ``me`` just claimed a batch for into its heartbeat at once."""
    if view is None or model in view.resident:
        return
    resident = with_arriving(sorted(view.resident), model, view.room)
    try:
        get_redis().hset(KEY_PREFIX + me, "resident_models", json.dumps(resident))
    except RedisError as exc:
        logger.warning("could not announce model %s: %s", model, exc)
