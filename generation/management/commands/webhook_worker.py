from django.core.management.base import BaseCommand
from rq import Worker
from rq.serializers import JSONSerializer

from generation.queueing import get_queue, get_redis
from generation.webhooks import WEBHOOK_QUEUE


class Command(BaseCommand):
    help = "Deliver job webhooks (a CPU worker; retries with back-off need its scheduler)."

    def add_arguments(self, parser):
        parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")

    def handle(self, *args, burst, **options):
        worker = Worker(
            [get_queue(WEBHOOK_QUEUE)], connection=get_redis(), serializer=JSONSerializer
        )
        self.stdout.write(f"webhook_worker ready: queue={WEBHOOK_QUEUE} worker={worker.name}")
        self.stdout.flush()
        worker.work(burst=burst, with_scheduler=True)
