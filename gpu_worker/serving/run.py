"""Running a claimed batch: one engine pass for every job in it, each job with its own
progress, previews, timings, control and reference images, images, identity scores and
manifest; an out-of-memory pass splits in halves."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from rq.timeouts import JobTimeoutException

from generation.models import GenerationJob, JobStatus
from generation.services import job_mark_cancelled, job_mark_failed

from ..engine.batching import BatchMember, same_pass
from ..engine.errors import EngineError, GenerationCancelled, OutOfMemory
from ..job_run import REDIS_LOST, _ms, add_result, retry_after_redis_loss, run_claimed_job
from ..job_specs import build_spec
from ..outcome import UNEXPECTED_ERROR_MESSAGE, Outcome
from ..progress import StepReporter
from ..runtime import get_engine
from ..scoring import scorer_for_job
from .store import store_batch

logger = logging.getLogger(__name__)

HandOff = Callable[[list], None]


def run_jobs(jobs: list[GenerationJob], hand_off: HandOff | None) -> dict[str, dict]:
    """Generate every claimed job and hand the finished ones to storage (inline when
    ``hand_off`` is None). Returns each job's outcome."""
    if len(jobs) == 1:
        return {str(jobs[0].id): run_claimed_job(jobs[0], hand_off)}
    try:
        return _run_pass(jobs, hand_off)
    except OutOfMemory:
        middle = len(jobs) // 2
        logger.warning("a batch of %d jobs ran out of memory; splitting it", len(jobs))
        return {**run_jobs(jobs[:middle], hand_off), **run_jobs(jobs[middle:], hand_off)}


def _run_pass(jobs: list[GenerationJob], hand_off: HandOff | None) -> dict[str, dict]:
    engine = get_engine()
    reporters = [StepReporter(job) for job in jobs]
    outcomes = {
        str(job.id): Outcome(timings={"queue_ms": _ms(job.started_at - job.created_at)})
        for job in jobs
    }
    results: dict[str, dict] = {}
    members, member_jobs, run_alone = [], [], []
    for job, reporter in zip(jobs, reporters, strict=True):
        try:
            spec = build_spec(job)  # loads its control, avatar and reference images
        except EngineError as exc:  # a LoRA file or an upload that went missing: this job only
            results[str(job.id)] = _fail(job, exc.code, str(exc), outcomes[str(job.id)])
            continue
        if members and not same_pass(members[0].spec, spec):
            # Its inputs changed since it was queued (a reference image deleted): it no
            # longer fits this pass, so it runs alone after it rather than failing it.
            run_alone.append(job)
            continue
        members.append(BatchMember(spec, on_step=reporter, on_preview=reporter.preview))
        member_jobs.append(job)
    if members:
        results.update(_run_members(engine, members, member_jobs, outcomes, hand_off))
    for job in run_alone:
        results[str(job.id)] = run_claimed_job(job, hand_off)
    return results


def _run_members(engine, members: list[BatchMember], member_jobs, outcomes, hand_off) -> dict:
    """One engine pass for jobs that share it; each member's ``on_step`` is its job's
    StepReporter."""
    results: dict[str, dict] = {}
    try:
        batch = engine.generate_batch(members, preview_every=settings.ILLU_PREVIEW_EVERY)
    except OutOfMemory:
        raise
    except GenerationCancelled as exc:  # every member left
        logger.info("every job of the batch was cancelled: %s", exc)
        for job in member_jobs:
            job_mark_cancelled(job_id=str(job.id), timings=outcomes[str(job.id)].timings)
            results[str(job.id)] = {"status": JobStatus.CANCELLED}
        return results
    except REDIS_LOST as exc:  # every member goes back to queued, as a solo job does
        return {str(job.id): retry_after_redis_loss(str(job.id), exc) for job in member_jobs}
    except JobTimeoutException:
        for job in member_jobs:
            message = f"The job ran longer than the {settings.ILLU_JOB_TIMEOUT} s limit."
            results[str(job.id)] = _fail(job, "timeout", message, outcomes[str(job.id)])
        return results
    except EngineError as exc:
        for job in member_jobs:
            results[str(job.id)] = _fail(job, exc.code, str(exc), outcomes[str(job.id)])
        return results
    except Exception:
        logger.exception("a batch failed unexpectedly")
        message = UNEXPECTED_ERROR_MESSAGE
        for job in member_jobs:
            results[str(job.id)] = _fail(job, "internal", message, outcomes[str(job.id)])
        return results

    finished = []
    for job, member, result, reason in zip(
        member_jobs, members, batch.results, batch.cancelled, strict=True
    ):
        outcome = outcomes[str(job.id)]
        outcome.add_time("load_ms", batch.load_ms)
        outcome.add_time("inference_ms", batch.inference_ms)
        outcome.timings["batch_size"] = batch.batch_size
        outcome.timings["batch_jobs"] = len(member_jobs)
        preview_ms = batch.extra.get("preview_ms", 0) + member.on_step.preview_ms
        if preview_ms:
            outcome.timings["preview_ms"] = int(preview_ms)
        if result is None:
            logger.info("job %s left its batch: %s", job.id, reason)
            job_mark_cancelled(job_id=str(job.id), timings=outcome.timings)
            results[str(job.id)] = {"status": JobStatus.CANCELLED}
            continue
        try:
            add_result(job, member.spec, result, outcome, scorer_for_job(job), member.on_step)
        except Exception:  # scoring this job's images: this job only
            logger.exception("job %s: its images could not be scored", job.id)
            message = UNEXPECTED_ERROR_MESSAGE
            results[str(job.id)] = _fail(job, "internal", message, outcome)
            continue
        finished.append((job, outcome))
        results[str(job.id)] = {"status": "storing", "images": len(outcome.images)}
    if finished:
        if hand_off is not None:
            hand_off(finished)
        else:
            results.update(store_batch(finished))
    return results


def _fail(job: GenerationJob, code: str, message: str, outcome) -> dict:
    logger.warning("job %s failed: %s", job.id, message)
    job_mark_failed(job_id=str(job.id), code=code, message=message, timings=outcome.timings)
    return {"status": JobStatus.FAILED}
