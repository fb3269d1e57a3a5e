import time

from django.core.management.base import BaseCommand, CommandError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from gpu_worker.warmup import enqueue_warmup
from work.redis_queue import get_redis
from work.workers import live_workers


class Command(BaseCommand):
    help = (
        "Queue a warm-up (load the configured pipeline, run one step) for the running GPU "
        "workers. Queues are shared: N warm-ups reach at most N workers."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--count", type=int, default=None, help="warm-ups to queue (default: live workers)"
        )
        parser.add_argument(
            "--wait", type=float, default=0, help="seconds to wait for the results (0: do not)"
        )

    def handle(self, *args, count, wait, **options):
        if count is None:
            count = max(len(live_workers()), 1)
        job_ids = enqueue_warmup(count)
        self.stdout.write(f"queued {len(job_ids)} warm-up job(s) on gpu-high: {' '.join(job_ids)}")
        if wait > 0:
            self._wait_for(job_ids, wait)

    def _wait_for(self, job_ids: list[str], wait: float) -> None:
        deadline = time.monotonic() + wait
        pending = list(job_ids)
        while pending and time.monotonic() < deadline:
            time.sleep(0.2)
            jobs = Job.fetch_many(pending, connection=get_redis(), serializer=JSONSerializer)
            for job in jobs:
                status = job.get_status() if job else None
                if status == JobStatus.FINISHED:
                    self.stdout.write(f"warm-up {job.id} done: {job.return_value()}")
                elif status == JobStatus.FAILED:
                    raise CommandError(f"warm-up {job.id} failed: {job.latest_result().exc_string}")
                else:
                    continue
                pending.remove(job.id)
        if pending:
            raise CommandError(f"{len(pending)} warm-up(s) not finished after {wait:.0f} s")
