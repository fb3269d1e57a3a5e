"""Warm-up: load the configured pipeline and run one tiny step, so the first user job is warm.

Two ways in: the worker command runs ``run_warmup()`` in-process at start
(``ILLU_WARMUP_ON_START``), and ``manage.py warmup`` / ``enqueue_warmup()`` puts
``run_warmup_job`` on the ``gpu-high`` queue for workers that are already running. RQ queues are
shared, so N enqueued warm-ups reach at most N workers, not necessarily N different ones; the
warm-up at start is what guarantees every worker is warm. Each result names its worker.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings

from generation.presets import DEFAULT_QUALITY, QUALITY_PRESETS
from work.redis_queue import get_queue

from .engine.spec import GenerationSpec
from .runtime import configured_model, get_engine

logger = logging.getLogger(__name__)

WARMUP_QUEUE = "gpu-high"
WARMUP_FUNC = "gpu_worker.warmup.run_warmup_job"
_CPU_WARMUP_SIZE = 256  # CPU workers serve tests and demos: warm up at the smallest size


def warmup_spec(source: str, device: str) -> GenerationSpec:
    side = settings.ILLU_WARMUP_SIZE if device.startswith("cuda") else _CPU_WARMUP_SIZE
    # One step with guidance > 1 runs the same batched (CFG) UNet call and the VAE decode that
    # real jobs run, so kernels, allocator pools and weights are all touched once.
    return GenerationSpec(
        model=source,
        prompt="warm-up",
        seeds=(0,),
        width=side,
        height=side,
        steps=1,
        guidance_scale=QUALITY_PRESETS[DEFAULT_QUALITY].guidance_scale,
    )


def default_model() -> str:
    """The model a worker loads at start and warms up: the registered default
    (ILLU_DEFAULT_MODEL, by its slug, when registered and enabled), else the configured
    weights. Loaded as a job's model is (``job_model_source``), so heartbeats list it by slug."""
    from django.db import DatabaseError

    from catalog.base_models import resolve_model

    try:
        registered = resolve_model(None)
    except DatabaseError as exc:  # started before its database answers: the configured one
        logger.warning("default model not read from the registry: %s", exc)
        registered = None
    return registered.slug if registered is not None else configured_model()


def run_warmup(model: str | None = None) -> dict[str, Any]:
    """Load ``model`` (default: ``default_model()``) if needed, compile the UNet at every
    served bucket (with ILLU_COMPILE_UNET), and generate one 1-step image."""
    from .job_models import job_model_source

    started = time.perf_counter()
    engine = get_engine()
    model = model or default_model()
    source = job_model_source(model)
    warmed = engine.warm_up(source)
    spec = warmup_spec(source, engine.profile.device)
    result = engine.generate(spec)
    outcome = {
        "model": model,
        "device": engine.profile.name,
        "load_ms": warmed["load_ms"] + result.load_ms,
        "inference_ms": result.inference_ms,
        "compile_ms": warmed["compile_ms"],
        "compile_graphs": warmed["graphs"],
        "total_ms": int((time.perf_counter() - started) * 1000),
    }
    logger.info("warm-up done", extra={"warmup": outcome})
    return outcome


def run_warmup_job() -> dict[str, Any]:
    """The RQ entry point: warm up this worker and say which worker it was."""
    from rq import get_current_job

    from core.log_context import job_log_context

    from .runtime import worker_identity

    job = get_current_job()
    job_id = job.id if job else "warmup"
    with job_log_context(job_id, "system", job.origin if job else WARMUP_QUEUE):
        worker = getattr(job, "worker_name", None) or ""
        return {**run_warmup(), "worker": worker, "process": worker_identity()}


def enqueue_warmup(count: int = 1) -> list[str]:
    """Put ``count`` warm-up jobs on the high-priority queue; returns their RQ job ids."""
    queue = get_queue(WARMUP_QUEUE)
    jobs = [
        queue.enqueue(
            WARMUP_FUNC,
            job_timeout=settings.ILLU_JOB_TIMEOUT,
            result_ttl=3600,
            failure_ttl=24 * 3600,
            description="warm-up",
        )
        for _ in range(max(count, 0))
    ]
    return [job.id for job in jobs]
