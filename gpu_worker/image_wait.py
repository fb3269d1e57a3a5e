"""Whether a training should give way to image jobs: asked after every training step, so it
reads Redis (never the database) and at most every ILLU_TRAINING_YIELD_CHECK_SECONDS.

A training yields once the image job at the head of a generation queue that this worker
serves before the training queue has waited ILLU_TRAINING_YIELD_AFTER_SECONDS, less one check
interval (checked that often, it then yields before the wait passes the setting; the image
job starts after one more step and the checkpoint write). A worker that serves no generation
queue before training (a dedicated trainer, ``--queues training``) never yields: nothing it
would serve instead is waiting for it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from django.conf import settings
from redis.exceptions import RedisError
from rq.job import Job
from rq.utils import str_to_date

from work.redis_queue import get_queue, get_redis

logger = logging.getLogger(__name__)


def image_queues_before_training(served: Sequence[str]) -> list[str]:
    """The generation queues among ``served`` that RQ serves before the training queue."""
    from generation.work_kind import QUEUE_NAMES
    from training.work_kind import TRAINING_QUEUE

    ahead = served[: list(served).index(TRAINING_QUEUE)] if TRAINING_QUEUE in served else served
    return [name for name in ahead if name in QUEUE_NAMES]


def longest_image_wait_s(queue_names: Sequence[str], now: datetime | None = None) -> float | None:
    """How long the head entry of the longest-waiting of ``queue_names`` has waited, in
    seconds (None when they are all empty): two Redis round trips, whatever their lengths."""
    if not queue_names:
        return None
    redis = get_redis()
    pipe = redis.pipeline(transaction=False)
    for name in queue_names:
        pipe.lindex(get_queue(name).key, 0)
    heads = [head.decode() for head in pipe.execute() if head]
    if not heads:
        return None
    pipe = redis.pipeline(transaction=False)
    for job_id in heads:
        pipe.hget(Job.key_for(job_id), "enqueued_at")
    now = now or datetime.now(UTC)
    # An entry without its job hash (deleted meanwhile) counts as just arrived.
    waits = [(now - str_to_date(stamp)).total_seconds() for stamp in pipe.execute() if stamp]
    return max([0.0, *waits])


class ImageWaitCheck:
    """Called between training steps: True when the training should pause for image jobs.
    Reads Redis at most every ``every_s`` seconds; a Redis error says no (the run's own cancel
    check reports a lost Redis)."""

    def __init__(
        self,
        queue_names: Sequence[str],
        *,
        after_s: float | None = None,
        every_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.queue_names = list(queue_names)
        self.after_s = settings.ILLU_TRAINING_YIELD_AFTER_SECONDS if after_s is None else after_s
        self.every_s = settings.ILLU_TRAINING_YIELD_CHECK_SECONDS if every_s is None else every_s
        self.clock = clock
        self._next_check = clock()  # the first step checks at once
        self.reads = 0  # Redis reads so far (what the cheapness test counts)

    def __call__(self) -> bool:
        if not self.queue_names:
            return False
        now = self.clock()
        if now < self._next_check:
            return False
        self._next_check = now + self.every_s
        self.reads += 1
        try:
            waited = longest_image_wait_s(self.queue_names)
        except RedisError as exc:
            logger.warning("could not read the image queues (Redis: %s); training on", exc)
            return False
        if waited is not None and waited >= max(0.0, self.after_s - self.every_s):
            logger.info("an image job has waited %.1f s: the training gives way", waited)
            return True
        return False
