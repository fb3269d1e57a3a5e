"""The GPU worker: an RQ SimpleWorker that never forks, so CUDA state and the warm pipelines
survive from one job to the next."""

from __future__ import annotations

from django.db import close_old_connections
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from generation.queueing import QUEUE_NAMES, get_queue, get_redis


class GpuWorker(SimpleWorker):
    def execute_job(self, job, queue):
        # One process serves many jobs: drop database connections that went stale in between.
        close_old_connections()
        try:
            return super().execute_job(job, queue)
        finally:
            close_old_connections()


def build_worker(queue_names: tuple[str, ...] = QUEUE_NAMES, name: str | None = None):
    return GpuWorker(
        [get_queue(q) for q in queue_names],
        connection=get_redis(),
        serializer=JSONSerializer,
        name=name,
    )
