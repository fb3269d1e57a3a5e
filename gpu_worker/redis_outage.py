"""Keeping the GPU worker alive through a Redis outage.

RQ already retries its blocking dequeue while Redis is down, but an outage during a job ends
its work loop (the job's bookkeeping cannot be written) and its teardown then fails to register
the worker's death. ``serve_through_outages`` waits for Redis with back-off and serves again as
the same worker, warm pipelines kept; the interrupted job itself was put back by the job layer
as a transient failure (``queue_unavailable``) and the reconciler re-enqueues it.
"""

from __future__ import annotations

import logging

from rq.exceptions import StopRequested

from work.redis_queue import wait_for_redis

logger = logging.getLogger(__name__)


def serve_through_outages(worker, *, burst: bool, max_delay: float) -> None:
    """Run ``worker.work()`` until it is asked to stop; whenever the loop ends because Redis
    went away, wait for Redis and serve again."""
    lives = 0
    while True:
        try:
            waited = wait_for_redis(
                worker.connection,
                max_delay=max_delay,
                should_stop=lambda: worker.shutdown_requested,
            )
            if waited is None:
                return
            if lives:
                logger.warning(
                    "Redis is back after %.1f s; worker %s serves again", waited, worker.name
                )
                # The last life could not register its death (Redis was gone); register_birth
                # refuses a name whose previous life looks alive.
                worker.register_death()
                # Reconcile at once: jobs stored during the outage are waiting for their enqueue.
                worker.last_cleaned_at = None
            lives += 1
            worker.work(burst=burst, with_scheduler=False)
        except StopRequested:  # a SIGTERM while waiting for Redis
            return
        if burst or worker.shutdown_requested:
            return
        logger.warning("worker %s stopped serving (Redis lost?); reconnecting", worker.name)
