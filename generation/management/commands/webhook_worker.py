from django.core.management.base import BaseCommand
from rq import Worker
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer

from generation.queueing import get_queue, get_redis
from generation.webhooks import WEBHOOK_QUEUE


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
        if scheduler == "only":
            rq_scheduler = RQScheduler([queue], connection=get_redis(), serializer=JSONSerializer)
            self.stdout.write(f"webhook_scheduler ready: queue={WEBHOOK_QUEUE}")
            self.stdout.flush()
            rq_scheduler.work()
            return
        worker = Worker([queue], connection=get_redis(), serializer=JSONSerializer)
        self.stdout.write(f"webhook_worker ready: queue={WEBHOOK_QUEUE} worker={worker.name}")
        self.stdout.flush()
        worker.work(burst=burst, with_scheduler=scheduler == "child")
