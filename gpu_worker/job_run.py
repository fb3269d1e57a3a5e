"""Generating one claimed job: the engine passes (new seeds while the consistency filter wants
more), identity scoring and face repairs, and the outcome. Storing it is the storage stage's
(``serving.store``); choosing what runs is the scheduler's (``serving.loop``)."""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import replace

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.timeouts import JobTimeoutException

from generation.models import GeneratedImage, GenerationJob, JobStatus
from generation.services import (
    job_mark_cancelled,
    job_mark_failed,
    job_schedule_retry,
)

from .engine.errors import EngineError, GenerationCancelled, OutOfMemory
from .job_specs import build_spec, fresh_seeds
from .outcome import Outcome, fail_unexpectedly
from .progress import StepReporter
from .repair_loop import repair_enabled, repair_rejected
from .runtime import get_engine
from .scoring import IdentityScorer, scorer_for_job
from .serving.store import store_batch

logger = logging.getLogger(__name__)


def worker_identity() -> str:
    """The RQ worker's name when run by one (the reconciler checks its heartbeat)."""
    from rq import get_current_job

    current = get_current_job()
    if current is not None and current.worker_name:
        return current.worker_name
    return f"{socket.gethostname()}:{os.getpid()}"


def run_claimed_job(job: GenerationJob, hand_off=None) -> dict:
    """Generate a job this worker already marked running, then store it: inline, or through
    ``hand_off`` (the background storage stage), which takes a list of (job, outcome)."""
    job_id = str(job.id)
    outcome = Outcome(timings={"queue_ms": _ms(job.started_at - job.created_at)})
    outcome.timings["batch_size"] = len(job.params["seeds"])
    try:
        _generate(job, outcome)
    except GenerationCancelled as exc:
        logger.info("job %s cancelled: %s", job_id, exc)
        job_mark_cancelled(job_id=job_id, timings=outcome.timings)
        return {"status": JobStatus.CANCELLED}
    except OutOfMemory as exc:
        return _after_out_of_memory(job, exc, outcome)
    except REDIS_LOST as exc:
        return retry_after_redis_loss(job_id, exc)
    except JobTimeoutException:
        return _after_time_limit(job_id, outcome)
    except EngineError as exc:
        logger.warning("job %s failed: %s", job_id, exc)
        job_mark_failed(job_id=job_id, code=exc.code, message=str(exc), timings=outcome.timings)
        return {"status": JobStatus.FAILED}
    except Exception as exc:
        if _raised_by(exc, JobTimeoutException):
            # The limit fired inside a library that wrapped it (model loading re-raises).
            return _after_time_limit(job_id, outcome)
        logger.exception("job %s failed unexpectedly", job_id)
        return fail_unexpectedly(job_id, outcome.timings)
    if hand_off is not None:
        hand_off([(job, outcome)])
        return {"status": "storing", "images": len(outcome.images)}
    return store_batch([(job, outcome)])[job_id]


# What redis-py raises when Redis goes away under a running job (progress, cancel checks).
REDIS_LOST = (RedisConnectionError, RedisTimeoutError)


def retry_after_redis_loss(job_id: str, exc: BaseException) -> dict:
    """A Redis blip is transient: the row goes back to queued (the attempt counted) and the
    reconciler enqueues it again once Redis answers. Never failed for it."""
    logger.warning("job %s: Redis stopped answering mid-job: %s", job_id, exc)
    status = job_schedule_retry(
        job_id=job_id,
        code="queue_unavailable",
        message="The job queue (Redis) stopped answering while the job ran.",
    )
    return {"status": status}


def _after_time_limit(job_id: str, outcome: Outcome) -> dict:
    from django.conf import settings

    logger.warning("job %s hit its time limit", job_id)
    job_mark_failed(
        job_id=job_id,
        code="timeout",
        message=f"The job ran longer than the {settings.ILLU_JOB_TIMEOUT} s limit; "
        "ask for fewer steps, images or pixels.",
        timings=outcome.timings,
    )
    return {"status": JobStatus.FAILED}


def _raised_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is ``exc`` or anywhere in the chain of causes behind it."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _generate(job: GenerationJob, outcome: Outcome) -> None:
    """Generate the requested images; with a consistency filter, keep going with new seeds
    until enough pass the identity threshold or the attempt budget is spent."""
    params = job.params
    consistency = params.get("consistency") or {}
    scorer = scorer_for_job(job)
    target = consistency.get("min_accepted", params["num_images"]) if scorer else 0
    budget = consistency.get("max_attempts", params["num_images"]) if scorer else 0
    filtering = bool(scorer and consistency.get("filter"))
    reporter = StepReporter(job)
    # Built once: its images (avatar, references, control) come from storage.
    spec = build_spec(job)
    seeds = list(params["seeds"])
    tried: set[int] = set()
    while seeds:
        tried.update(seeds)
        _run_batch(job, replace(spec, seeds=tuple(seeds)), reporter, scorer, outcome)
        accepted = sum(1 for image in outcome.images if image.accepted)
        remaining = budget - len(tried)
        if not filtering or accepted >= target or remaining <= 0:
            break
        seeds = fresh_seeds(min(target - accepted, remaining, 8), tried)
        reporter.next_batch()


def _run_batch(job, spec, reporter, scorer: IdentityScorer | None, outcome: Outcome) -> None:
    from django.conf import settings

    engine = get_engine()
    # Previews only when on: engine doubles written for tests take (spec, on_step) alone.
    every = settings.ILLU_PREVIEW_EVERY
    previews = {"on_preview": reporter.preview, "preview_every": every} if every > 0 else {}
    with engine.pipelines.use_memory_profile(job.params.get("memory_profile")):
        result = engine.generate(spec, on_step=reporter, **previews)
    outcome.add_time("load_ms", result.load_ms)
    outcome.add_time("inference_ms", result.inference_ms)
    if reporter.preview_ms:
        outcome.timings["preview_ms"] = int(reporter.preview_ms)
    add_result(job, spec, result, outcome, scorer, reporter)


def add_result(job, spec, result, outcome: Outcome, scorer: IdentityScorer | None, reporter):
    """Add an engine result to the job's outcome: its control images (once), and every image,
    scored for identity and repaired where the job asks. Solo and batched runs end here."""
    if not outcome.conditioning:
        kinds = [control.kind for control in spec.controls]
        outcome.conditioning = list(zip(kinds, result.conditioning_images, strict=False))
    started = time.perf_counter()
    for output in result.images:
        image = GeneratedImage(
            job=job,
            index=len(outcome.images),
            width=output.image.width,
            height=output.image.height,
            seed=output.seed,
            manifest=output.manifest,
        )
        image._pil = output.image  # kept until upload
        if scorer is not None:
            score = scorer.score(output.image)
            image.consistency_score = score
            image.accepted = score is not None and score >= scorer.threshold
            image.manifest = {**image.manifest, "identity": scorer.manifest(score)}
            if not image.accepted and repair_enabled(job):
                repair_rejected(job, spec, image, scorer, reporter)
        outcome.images.append(image)
    if scorer is not None:
        outcome.add_time("scoring_ms", int((time.perf_counter() - started) * 1000))


def _after_out_of_memory(job: GenerationJob, exc: OutOfMemory, outcome: Outcome) -> dict:
    """The engine already freed the cache; retry once with the low-memory profile."""
    if job.params.get("memory_profile") == "low":
        job_mark_failed(
            job_id=str(job.id), code=exc.code, message=str(exc), timings=outcome.timings
        )
        return {"status": JobStatus.FAILED}
    params = {**job.params, "memory_profile": "low"}
    updated = GenerationJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
        status=JobStatus.QUEUED, params=params, started_at=None, worker_name=""
    )
    if updated:
        from generation.queueing import enqueue_generation_job

        job.refresh_from_db()
        enqueue_generation_job(job)
        logger.warning("job %s ran out of memory; retrying with the low-memory profile", job.id)
    return {"status": JobStatus.QUEUED}


def _ms(delta) -> int:
    return int(delta.total_seconds() * 1000)
