"""Generating one claimed job alone: the engine passes (new seeds while the consistency
filter wants more), identity scoring and face repairs, the low-memory retry, and the outcome.
Storing it is the storage stage's (``serving.storage_stage``); what runs is the scheduler's
(``serving.loop``); a batch of several jobs is ``serving.batch_pass``'s."""

from __future__ import annotations

import logging
from dataclasses import replace

from django.conf import settings

from generation.models import GenerationJob
from generation.work_kind import JOBS
from work.lifecycle import work_put_back
from work.models import WorkStatus

from ..engine.errors import OutOfMemory
from ..failures import settle
from ..job_specs import build_spec, fresh_seeds
from ..owed_entries import owe_entry
from ..runtime import worker_services
from ..scoring import IdentityScorer
from ..step_reporter import StepReporter
from .output import JobOutput, add_result, ms
from .storage_stage import store_batch

logger = logging.getLogger(__name__)


def run_claimed_job(job: GenerationJob, hand_off=None) -> dict:
    """Generate a job this worker already marked running, then store it: inline, or through
    ``hand_off`` (the background storage stage), which takes a list of (job, output)."""
    job_id = str(job.id)
    output = JobOutput(timings={"queue_ms": ms(job.started_at - job.created_at)})
    output.timings["batch_size"] = len(job.params["seeds"])
    try:
        _generate(job, output)
    except OutOfMemory as exc:
        return _after_out_of_memory(job, exc, output)
    except Exception as exc:
        return settle(JOBS, job_id, exc, changes=output.row_changes())
    if hand_off is not None:
        hand_off([(job, output)])
        return {"status": "storing", "images": len(output.images)}
    return store_batch([(job, output)])[job_id]


def _generate(job: GenerationJob, output: JobOutput) -> None:
    """Generate the requested images; with a consistency filter, keep going with new seeds
    until enough pass the identity threshold or the attempt budget is spent."""
    params = job.params
    # Built once, first: its inputs are checked (gone ones fail the job before any work)
    # and its images (avatar, references, control) come from storage.
    spec = build_spec(job)
    consistency = params.get("consistency") or {}
    scorer = worker_services().scorer_for_job(job)
    target = consistency.get("min_accepted", params["num_images"]) if scorer else 0
    budget = consistency.get("max_attempts", params["num_images"]) if scorer else 0
    filtering = bool(scorer and consistency.get("filter"))
    reporter = StepReporter(job)
    seeds = list(params["seeds"])
    tried: set[int] = set()
    while seeds:
        tried.update(seeds)
        _run_pass(job, replace(spec, seeds=tuple(seeds)), reporter, scorer, output)
        accepted = sum(1 for image in output.images if image.accepted)
        remaining = budget - len(tried)
        if not filtering or accepted >= target or remaining <= 0:
            break
        seeds = fresh_seeds(min(target - accepted, remaining, 8), tried)
        reporter.next_batch()


def _run_pass(job, spec, reporter, scorer: IdentityScorer | None, output: JobOutput) -> None:
    engine = worker_services().engine
    # Previews only when on: engine doubles written for tests take (spec, on_step) alone.
    every = settings.ILLU_PREVIEW_EVERY
    previews = {"on_preview": reporter.preview, "preview_every": every} if every > 0 else {}
    with engine.pipelines.use_memory_profile(job.params.get("memory_profile")):
        result = engine.generate(spec, on_step=reporter, **previews)
    output.add_time("load_ms", result.load_ms)
    output.add_model_load(result.extra.get("model_load"))
    output.add_time("inference_ms", result.inference_ms)
    output.gpu_ms += result.load_ms + result.inference_ms  # a solo pass is all its own
    if reporter.preview_ms:
        output.timings["preview_ms"] = int(reporter.preview_ms)
    add_result(job, spec, result, output, scorer, reporter)


def _after_out_of_memory(job: GenerationJob, exc: OutOfMemory, output: JobOutput) -> dict:
    """The engine already freed the cache; the job goes back to its queue once, to run with
    the low-memory profile (a status event says so); out of memory again, it fails."""
    if job.params.get("memory_profile") == "low":
        return settle(JOBS, str(job.id), exc, changes=output.row_changes())
    params = {**job.params, "memory_profile": "low"}
    # Put back from inside its own RQ job (its id is the row's): the entry is owed until RQ
    # has finished with this one, which would otherwise mark the new entry finished.
    if work_put_back(JOBS, row_id=str(job.id), changes={"params": params}, enqueue=False):
        owe_entry(JOBS, str(job.id))
        logger.warning("job %s ran out of memory; retrying with the low-memory profile", job.id)
    return {"status": WorkStatus.QUEUED}
