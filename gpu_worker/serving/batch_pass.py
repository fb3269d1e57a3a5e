"""Running a claimed batch: one engine pass for every job in it, each job with its own
progress, previews, timings, control and reference images, images, identity scores and
manifest; an out-of-memory pass splits in halves. A single job runs on the solo path."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings

from generation.models import GenerationJob
from generation.work_kind import JOBS
from work.lifecycle import work_end_cancelled
from work.models import WorkStatus

from ..engine.batching import BatchMember, same_pass
from ..engine.errors import EngineError, OutOfMemory
from ..failures import settle
from ..job_specs import build_spec
from ..runtime import worker_services
from ..step_reporter import StepReporter
from .output import JobOutput, add_result, engine_ms_shares, ms
from .solo import run_claimed_job
from .storage_stage import store_batch

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
    reporters = [StepReporter(job) for job in jobs]
    outputs = {
        str(job.id): JobOutput(timings={"queue_ms": ms(job.started_at - job.created_at)})
        for job in jobs
    }
    results: dict[str, dict] = {}
    members, member_jobs, run_alone = [], [], []
    for job, reporter in zip(jobs, reporters, strict=True):
        try:
            spec = build_spec(job)  # loads its control, avatar and reference images
        except EngineError as exc:  # a LoRA file or an upload that went missing: this job only
            results[str(job.id)] = _settle(job, exc, outputs)
            continue
        if members and not same_pass(members[0].spec, spec):
            # Its inputs changed since it was queued (a reference image deleted): it no
            # longer fits this pass, so it runs alone after it rather than failing it.
            run_alone.append(job)
            continue
        members.append(BatchMember(spec, on_step=reporter, on_preview=reporter.preview))
        member_jobs.append(job)
    if members:
        results.update(_run_members(members, member_jobs, outputs, hand_off))
    for job in run_alone:
        results[str(job.id)] = run_claimed_job(job, hand_off)
    return results


def _run_members(members: list[BatchMember], member_jobs, outputs, hand_off) -> dict:
    """One engine pass for jobs that share it; each member's ``on_step`` is its job's
    StepReporter. What the pass raises settles every member alike (``gpu_worker.failures``);
    out of memory goes up to ``run_jobs``, which splits the batch."""
    services = worker_services()
    try:
        batch = services.engine.generate_batch(members, preview_every=settings.ILLU_PREVIEW_EVERY)
    except OutOfMemory:
        raise
    except Exception as exc:
        return {str(job.id): _settle(job, exc, outputs) for job in member_jobs}

    results: dict[str, dict] = {}
    finished = []
    # Every member pays for the pass by its images, those that left it early too: their rows
    # held the engine while they rode along, and the shares add up to the pass's time.
    shares = engine_ms_shares(
        batch.load_ms + batch.inference_ms, [member.spec.num_images for member in members]
    )
    for job, member, result, reason, share in zip(
        member_jobs, members, batch.results, batch.cancelled, shares, strict=True
    ):
        output = outputs[str(job.id)]
        output.gpu_ms += share
        output.add_time("load_ms", batch.load_ms)
        output.add_model_load(batch.extra.get("model_load"))
        output.add_time("inference_ms", batch.inference_ms)
        output.timings["batch_size"] = batch.batch_size
        output.timings["batch_jobs"] = len(member_jobs)
        preview_ms = batch.extra.get("preview_ms", 0) + member.on_step.preview_ms
        if preview_ms:
            output.timings["preview_ms"] = int(preview_ms)
        if result is None:
            logger.info("job %s left its batch: %s", job.id, reason)
            work_end_cancelled(JOBS, row_id=str(job.id), changes=output.row_changes())
            results[str(job.id)] = {"status": WorkStatus.CANCELLED}
            continue
        try:
            scorer = services.scorer_for_job(job)
            add_result(job, member.spec, result, output, scorer, member.on_step)
        except Exception as exc:  # scoring this job's images: this job only
            results[str(job.id)] = _settle(job, exc, outputs)
            continue
        finished.append((job, output))
        results[str(job.id)] = {"status": "storing", "images": len(output.images)}
    if finished:
        if hand_off is not None:
            hand_off(finished)
        else:
            results.update(store_batch(finished))
    return results


def _settle(job: GenerationJob, exc: BaseException, outputs: dict[str, JobOutput]) -> dict:
    return settle(JOBS, str(job.id), exc, changes=outputs[str(job.id)].row_changes())
