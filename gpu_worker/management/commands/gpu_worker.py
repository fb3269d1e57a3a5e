import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from gpu_worker.heartbeat import memory_snapshot, start_heartbeat
from gpu_worker.job_models import job_model_source
from gpu_worker.redis_outage import serve_through_outages
from gpu_worker.runtime import get_engine
from gpu_worker.warmup import default_model, run_warmup
from gpu_worker.worker import build_worker, default_queue_names
from work.redis_queue import wait_for_redis

logger = logging.getLogger("gpu_worker")

_MIB = 1024 * 1024


class Command(BaseCommand):
    help = "Run a GPU worker: load the pipeline once, warm it up, then serve the gpu queues."

    def add_arguments(self, parser):
        parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
        parser.add_argument(
            "--queues", nargs="+", default=None, help="default: gpu-high gpu gpu-low [training]"
        )
        parser.add_argument("--name", default=None, help="worker name (default: RQ's)")

    def handle(self, *args, burst, queues, name, **options):
        started = time.perf_counter()
        _route_library_logs(structured=settings.LOG_FORMAT == "json")
        engine = get_engine()
        model = default_model()
        load_ms = engine.warm(job_model_source(model))
        warmup = run_warmup(model) if settings.ILLU_WARMUP_ON_START else {}
        warmup_ms, compile_ms = warmup.get("total_ms", 0), warmup.get("compile_ms", 0)
        queues = list(queues or default_queue_names())
        worker = build_worker(tuple(queues), name=name)
        worker.listen_for_stop_signals()
        # Started while Redis is down (a restart during an outage): wait rather than crash.
        waited = wait_for_redis(
            worker.connection,
            max_delay=settings.ILLU_REDIS_RECONNECT_MAX_DELAY,
            should_stop=lambda: worker.shutdown_requested,
        )
        if waited is None:  # told to stop while waiting
            return
        memory = memory_snapshot(engine.profile.device)
        ready = {
            "device": engine.profile.name,
            "model": model,
            "load_ms": load_ms,
            "warmup_ms": warmup_ms,
            "compile_ms": compile_ms,  # torch.compile of every served bucket (ILLU_COMPILE_*)
            "compile_graphs": warmup.get("compile_graphs", 0),
            "max_batch": settings.ILLU_MAX_BATCH,
            "storage_queue": settings.ILLU_STORAGE_QUEUE,
            "startup_ms": int((time.perf_counter() - started) * 1000),
            "memory": memory["memory_kind"],
            "memory_used_mib": memory["memory_used"] // _MIB,
            "memory_total_mib": memory["memory_total"] // _MIB,
            "queues": ",".join(queues),
            "worker": worker.name,
        }
        # Visible in Redis before "ready" is printed: whoever waits for the line sees the worker.
        heartbeat = start_heartbeat(
            worker,
            engine,
            interval=settings.ILLU_HEARTBEAT_INTERVAL,
            ttl=settings.ILLU_HEARTBEAT_TTL,
        )
        try:
            self.stdout.write("gpu_worker ready: " + " ".join(f"{k}={v}" for k, v in ready.items()))
            self.stdout.flush()
            logger.info("gpu_worker ready", extra={"ready": ready})
            serve_through_outages(
                worker, burst=burst, max_delay=settings.ILLU_REDIS_RECONNECT_MAX_DELAY
            )
        finally:
            heartbeat.stop()


def _route_library_logs(*, structured: bool) -> None:
    """diffusers and transformers log through stderr handlers of their own and draw tqdm bars:
    send their records (and Python warnings) through ours, and drop the bars from JSON logs,
    which must stay one JSON object per line."""
    import diffusers.utils.logging as diffusers_logging
    import huggingface_hub.utils
    import transformers.utils.logging as transformers_logging

    logging.captureWarnings(True)
    for library in (diffusers_logging, transformers_logging):
        library.disable_default_handler()
        library.enable_propagation()
        if structured:
            library.disable_progress_bar()
    if structured:
        huggingface_hub.utils.disable_progress_bars()
