import time

from django.core.management.base import BaseCommand

from generation.queueing import QUEUE_NAMES
from gpu_worker.runtime import configured_model, get_engine, resolve_model_source
from gpu_worker.worker import build_worker


class Command(BaseCommand):
    help = "Run a GPU worker: load the pipeline once, then serve the gpu queues."

    def add_arguments(self, parser):
        parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
        parser.add_argument("--queues", nargs="+", default=list(QUEUE_NAMES))
        parser.add_argument("--name", default=None, help="worker name (default: RQ's)")

    def handle(self, *args, burst, queues, name, **options):
        started = time.perf_counter()
        engine = get_engine()
        model = configured_model()
        load_ms = engine.warm(resolve_model_source(model))
        self.stdout.write(
            f"gpu_worker ready: device={engine.profile.name} model={model} "
            f"load_ms={load_ms} startup_ms={int((time.perf_counter() - started) * 1000)} "
            f"queues={','.join(queues)}"
        )
        self.stdout.flush()
        build_worker(tuple(queues), name=name).work(burst=burst, with_scheduler=False)
