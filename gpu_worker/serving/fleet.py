"""What checkpoint-aware routing reads besides the queue: the live workers' heartbeats as
``WorkerView``s, and how often each queued job was skipped for another job whose model a
worker holds. The counts live in one Redis hash shared by every worker, so a job's bound
(ILLU_MODEL_AFFINITY_MAX_PASS) holds across the whole fleet, not per worker."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from generation.queue.scheduling import WorkerView
from work.redis_queue import get_redis
from work.workers import live_workers

logger = logging.getLogger(__name__)

ROUTED_KEY = "illu:routing:passed-over"


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
