"""The GPU worker: an RQ SimpleWorker that never forks, so CUDA state and the warm pipelines
survive from one job to the next. Its maintenance pass also runs the job reconciler."""

from __future__ import annotations

import logging
import signal

from django.conf import settings
from django.db import close_old_connections
from redis import Redis
from redis.exceptions import RedisError
from rq import SimpleWorker
from rq.exceptions import StopRequested
from rq.serializers import JSONSerializer

from generation.work_kind import QUEUE_NAMES
from work.redis_queue import get_queue
from work.rq_workers import PromptStopMixin

logger = logging.getLogger(__name__)


class GpuWorker(PromptStopMixin, SimpleWorker):
    # RQ's wait between reconnection attempts while idle doubles up to this (RQ's default: 60 s).
    max_connection_wait_time = 5.0
    # Set by SIGTERM/SIGINT: RQ's own flag stays False when the signal finds the worker idle.
    shutdown_requested = False

    def request_stop(self, signum, frame):
        self.shutdown_requested = True
        super().request_stop(signum, frame)

    def listen_for_stop_signals(self) -> None:
        """From now on SIGTERM and SIGINT stop the worker cleanly. RQ installs its handlers
        only once work() has registered the worker in Redis; a signal before that (a
        supervisor stopping a worker that is still starting) would kill it with its heartbeat
        and registration left behind. Until RQ's handlers take over, a signal marks the stop."""

        def stop_when_serving_starts(signum, frame):
            self.shutdown_requested = True

        signal.signal(signal.SIGTERM, stop_when_serving_starts)
        signal.signal(signal.SIGINT, stop_when_serving_starts)

    def _install_signal_handlers(self):
        super()._install_signal_handlers()
        if self.shutdown_requested:  # signalled during start-up: leave at the first check
            self._stop_requested = True

    def execute_job(self, job, queue):
        # One process serves many jobs: drop database connections that went stale in between.
        close_old_connections()
        try:
            return super().execute_job(job, queue)
        finally:
            from .owed_entries import restore_owed_entries

            # Queue entries owed by rows put back from inside their own RQ job (a woken job a
            # fairer batch went before, a job retried in low memory, a paused training), now
            # that RQ is done with the current entry.
            restore_owed_entries()
            close_old_connections()
            self._wait_for_the_fleet_if_asked()

    def _wait_for_the_fleet_if_asked(self) -> None:
        """Routing left the queue to the workers holding its models: wait for one of them to
        claim (or a short while) before dequeuing again, rather than spin on the entries."""
        from .serving.fleet import wait_for_the_fleet
        from .serving.state import STATE

        if STATE.waits_for_fleet:
            STATE.waits_for_fleet = False
            wait_for_the_fleet(self.connection, self.name)

    def work(self, *args, **kwargs):
        from .serving.loop import close_storage_stage, open_storage_stage

        open_storage_stage()
        try:
            return super().work(*args, **kwargs)
        finally:
            close_storage_stage()  # every handed-off job is stored before the worker ends

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        from generation.work_kind import reconcile_jobs
        from training.work_kind import reconcile_trainings

        close_old_connections()
        for reconcile in (reconcile_jobs, reconcile_trainings):
            try:
                reconcile()
            except StopRequested:
                raise  # a SIGTERM while idle (here, reconciling): the worker stops, as RQ means
            except Exception:  # the reconciler must never take the worker down
                logger.exception(
                    "%s failed; will retry at the next maintenance", reconcile.__name__
                )

    def register_death(self):
        # With Redis gone there is nowhere to register the death: RQ would raise out of its
        # teardown and kill the process. serve_through_outages() registers it once Redis is back.
        try:
            super().register_death()
        except RedisError as exc:
            logger.warning("could not register the worker's death in Redis: %s", exc)


def worker_connection() -> Redis:
    """A connection of the worker's own: RQ raises its read timeout above the blocking dequeue,
    which must not change the short timeouts of the client that requests share."""
    return Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=settings.ILLU_REDIS_CONNECT_TIMEOUT
    )


def default_queue_names() -> tuple[str, ...]:
    """The generation queues by priority, then (ILLU_TRAINING_ON_GPU_WORKERS) training: RQ
    serves them in order, so a worker starts a training only when no image is waiting, and
    a running training gives way to image jobs (``gpu_worker.image_wait``)."""
    from training.work_kind import TRAINING_QUEUE

    if settings.ILLU_TRAINING_ON_GPU_WORKERS:
        return (*QUEUE_NAMES, TRAINING_QUEUE)
    return QUEUE_NAMES


def build_worker(queue_names: tuple[str, ...] | None = None, name: str | None = None):
    queue_names = queue_names or default_queue_names()
    interval = settings.ILLU_RECONCILE_INTERVAL
    return GpuWorker(
        [get_queue(q) for q in queue_names],
        connection=worker_connection(),
        serializer=JSONSerializer,
        name=name,
        maintenance_interval=interval,
        # RQ blocks on the queues for worker_ttl - 15 s; keep that under the interval so an
        # idle worker still reconciles on time.
        worker_ttl=max(20, interval + 15),
    )
