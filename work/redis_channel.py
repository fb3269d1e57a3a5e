"""The Redis event channel of a row of background work: what the web and the worker tell each
other about it while it runs, namely a cancel flag, the live progress (a hash, so late readers
see the latest) and events on a pub/sub channel. Postgres stays the source of truth; these
keys only carry what changes every step. (The keys say "job" for every kind of work.)"""

from __future__ import annotations

import json
import logging
import time

from redis.exceptions import RedisError

from .redis_queue import get_redis

logger = logging.getLogger(__name__)

CANCEL_TTL_SECONDS = 24 * 3600
PROGRESS_TTL_SECONDS = 24 * 3600


def cancel_key(job_id: str) -> str:
    return f"illu:job:{job_id}:cancel"


def progress_key(job_id: str) -> str:
    return f"illu:job:{job_id}:progress"


def events_channel(job_id: str) -> str:
    return f"illu:job:{job_id}:events"


def request_cancel(job_id: str) -> None:
    get_redis().set(cancel_key(job_id), "1", ex=CANCEL_TTL_SECONDS)


def clear_cancel(job_id: str) -> None:
    get_redis().delete(cancel_key(job_id))


def cancel_requested(job_id: str) -> bool:
    return bool(get_redis().exists(cancel_key(job_id)))


def publish_event(job_id: str, event: str, data: dict) -> None:
    """Publish one event; progress is also kept in a hash so late readers see the latest.
    Best effort: while Redis is down the event is dropped (the row keeps the truth)."""
    redis = get_redis()
    payload = json.dumps({"event": event, "data": data, "time": time.time()})
    pipe = redis.pipeline()
    if event == "progress":
        pipe.hset(progress_key(job_id), mapping={k: json.dumps(v) for k, v in data.items()})
        pipe.expire(progress_key(job_id), PROGRESS_TTL_SECONDS)
    elif event == "preview":
        # The latest preview rides along in the progress hash for polling readers.
        mapping = {"preview": json.dumps(data["image"]), "preview_step": json.dumps(data["step"])}
        pipe.hset(progress_key(job_id), mapping=mapping)
        pipe.expire(progress_key(job_id), PROGRESS_TTL_SECONDS)
    pipe.publish(events_channel(job_id), payload)
    try:
        pipe.execute()
    except RedisError as exc:
        logger.warning("job %s: %s event not published (Redis: %s)", job_id, event, exc)


def read_progress(job_id: str) -> dict | None:
    """The live progress, or None when there is none or Redis does not answer (reads of a job
    keep working from the database during an outage)."""
    try:
        raw = get_redis().hgetall(progress_key(job_id))
    except RedisError:
        return None
    if not raw:
        return None
    return {k.decode(): json.loads(v) for k, v in raw.items()}
