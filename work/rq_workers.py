"""What every RQ worker of the platform shares.

RQ unsubscribes a stopping worker by sending UNSUBSCRIBE and then stopping its pub/sub reader
thread. With redis-py 8, ``PubSubWorkerThread.stop()`` waits for the reader to leave, and the
reader, woken by the UNSUBSCRIBE reply before its running flag was cleared, goes back to a
``get_message(timeout=60)``: a worker then took up to 60 s to stop. Clearing the flag first
lets the reply end the reader at once."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


class PromptStopMixin:
    """Put before RQ's worker class: ``class MyWorker(PromptStopMixin, Worker)``."""

    pubsub = None
    pubsub_thread = None
    pubsub_channel_name = ""

    def unsubscribe(self) -> None:
        thread = self.pubsub_thread
        if thread is None:
            return
        try:
            thread.stop(timeout=0)  # clears the running flag without waiting
            self.pubsub.unsubscribe()  # its reply wakes the reader, which now leaves
            thread.join(timeout=5)
            self.pubsub.close()
        except RedisError as exc:
            # With Redis gone there is nothing to unsubscribe from; the process is ending.
            logger.warning("could not unsubscribe from Redis: %s", exc)
