"""The GPU worker: an RQ SimpleWorker that never forks, so CUDA state and the warm pipelines
survive from one job to the next. Its maintenance pass also runs the job reconciler."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import close_old_connections
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from generation.queueing import QUEUE_NAMES, get_queue, get_redis

logger = logging.getLogger(__name__)


class GpuWorker(SimpleWorker):
    def execute_job(self, job, queue):
        # One process serves many jobs: drop database connections that went stale in between.
        close_old_connections()
        try:
            return super().execute_job(job, queue)
        finally:
            from .serving.loop import restore_entries

            # Queue entries of woken jobs a fairer batch went before, now that RQ is done.
            restore_entries()
            close_old_connections()

    def work(self, *args, **kwargs):
        from .serving.loop import close_storage_stage, open_storage_stage

        open_storage_stage()
        try:
            return super().work(*args, **kwargs)
        finally:
            close_storage_stage()  # every handed-off job is stored before the worker ends

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        from generation.reconcile import reconcile_jobs

        close_old_connections()
        try:
            reconcile_jobs()
        except Exception:  # the reconciler must never take the worker down
            logger.exception("job reconciliation failed; will retry at the next maintenance")


def build_worker(queue_names: tuple[str, ...] = QUEUE_NAMES, name: str | None = None):
    interval = settings.ILLU_RECONCILE_INTERVAL
    return GpuWorker(
        [get_queue(q) for q in queue_names],
        connection=get_redis(),
        serializer=JSONSerializer,
        name=name,
        maintenance_interval=interval,
        # RQ blocks on the queues for worker_ttl - 15 s; keep that under the interval so an
        # idle worker still reconciles on time.
        worker_ttl=max(20, interval + 15),
    )
