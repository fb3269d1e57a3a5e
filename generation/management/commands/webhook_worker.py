from django.conf import settings
from django.core.management.base import BaseCommand
from redis.exceptions import RedisError
from rq import Worker
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer

from generation.webhooks import WEBHOOK_QUEUE
from work.redis_queue import get_queue, get_redis, wait_for_redis
from work.rq_workers import PromptStopMixin


class WebhookWorker(PromptStopMixin, Worker):
    """RQ's worker, stopping without a minute's wait (see work.rq_workers)."""


class Command(BaseCommand):
    help = "Deliver job webhooks (a CPU worker; retries with back-off need its scheduler)."

    def add_arguments(self, parser):
        parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
        parser.add_argument(
            "--scheduler",
            choices=("child", "none", "only"),
            default="child",
            help="where retries are scheduled: RQ's child process (default), elsewhere "
            "(none), or run only the scheduler. Under a supervisor use `none` and `only` as "
            "two programs: a child process would outlive a worker killed with SIGKILL.",
        )

    def handle(self, *args, burst, scheduler, **options):
        queue = get_queue(WEBHOOK_QUEUE)
        # Started during a Redis outage (a restart by the supervisor): wait, do not crash-loop.
        wait_for_redis(get_redis(), max_delay=settings.ILLU_REDIS_RECONNECT_MAX_DELAY)
        if scheduler == "only":
            self.stdout.write(f"webhook_scheduler ready: queue={WEBHOOK_QUEUE}")
            self.stdout.flush()
            self._schedule_through_outages(queue)
            return
        worker = WebhookWorker([queue], connection=get_redis(), serializer=JSONSerializer)
        self.stdout.write(f"webhook_worker ready: queue={WEBHOOK_QUEUE} worker={worker.name}")
        self.stdout.flush()
        worker.work(burst=burst, with_scheduler=scheduler == "child")

    def _schedule_through_outages(self, queue) -> None:
        """RQ's scheduler loop ends on the first Redis error; wait for Redis and start it again
        (a SIGTERM ends it cleanly through RQ's own handler)."""
        while True:
            rq_scheduler = RQScheduler([queue], connection=get_redis(), serializer=JSONSerializer)
            try:
                rq_scheduler.work()
                return
            except RedisError as exc:
                self.stderr.write(f"webhook_scheduler lost Redis ({exc}); waiting for it")
                back = wait_for_redis(
                    get_redis(),
                    max_delay=settings.ILLU_REDIS_RECONNECT_MAX_DELAY,
                    # RQ's handler, still installed, only flags a SIGTERM that comes meanwhile.
                    should_stop=lambda scheduler=rq_scheduler: scheduler._stop_requested,
                )
                if back is None:
                    return
