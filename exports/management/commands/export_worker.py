import logging

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections
from rq import Worker
from rq.serializers import JSONSerializer

from exports.work_kind import EXPORT_QUEUE, reconcile_exports
from work.redis_queue import get_queue, get_redis, wait_for_redis
from work.rq_workers import PromptStopMixin

logger = logging.getLogger(__name__)


class ExportWorker(PromptStopMixin, Worker):
    """RQ's forking worker that also mends exports at each maintenance (RQ's
    ``maintenance_interval``), as GPU workers mend jobs: one whose process is gone goes back."""

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        try:
            reconcile_exports()
        except Exception:  # the reconciler must never take the worker down
            logger.exception("reconcile_exports failed; will retry at the next maintenance")
        finally:
            connections.close_all()  # forked work horses open their own


class Command(BaseCommand):
    help = "Run book exports (PDF, ZIP): a CPU worker on the exports queue."

    def add_arguments(self, parser):
        parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")

    def handle(self, *args, burst, **options):
        # Started during a Redis outage (a restart by the supervisor): wait, do not crash-loop.
        wait_for_redis(get_redis(), max_delay=settings.ILLU_REDIS_RECONNECT_MAX_DELAY)
        # Exports this worker's predecessor left running or whose wake-up was lost.
        reconcile_exports()
        connections.close_all()  # each forked work horse opens its own
        worker = ExportWorker(
            [get_queue(EXPORT_QUEUE)], connection=get_redis(), serializer=JSONSerializer
        )
        self.stdout.write(f"export_worker ready: queue={EXPORT_QUEUE} worker={worker.name}")
        self.stdout.flush()
        worker.work(burst=burst)
