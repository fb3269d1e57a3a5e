"""What an RQ job runs. Its queue entry wakes the worker; the scheduler then chooses the
batch (fair share, affinity, compatible jobs), so the woken job runs in it, or a fairer
batch runs first and the woken job's entry goes back on its queue once this RQ job ends:
every queued row keeps exactly one entry. Finished pixels go to the storage stage while the
next batch denoises."""

from __future__ import annotations

import logging

from django.conf import settings

from generation.models import GenerationJob
from generation.queue.scheduling import lora_key
from generation.work_kind import JOBS
from work.models import WorkStatus

from ..owed_entries import owe_entry
from ..runtime import worker_identity
from .batch_pass import run_jobs
from .claim import claim_next_batch
from .state import STATE

logger = logging.getLogger(__name__)


def serve(job_id: str) -> dict:
    from ..runtime import get_engine

    status = GenerationJob.objects.filter(pk=job_id).values_list("status", flat=True).first()
    if status != WorkStatus.QUEUED:
        logger.info("job %s not started: status is %s", job_id, status)
        return {"skipped": status}
    jobs, removed = claim_next_batch(
        worker_name=worker_identity(),
        state=STATE,
        memory_profile=get_engine().pipelines.memory.name,
        woken_by=job_id,
    )
    ids = [str(job.id) for job in jobs]
    if jobs:
        logger.info("serving a batch of %d job(s): %s", len(ids), ", ".join(ids))
        with STATE.lock:
            STATE.denoising.update(ids)
        try:
            hand_off = STATE.stage.submit if STATE.stage is not None else None
            results = run_jobs(jobs, hand_off)
        finally:
            with STATE.lock:
                STATE.denoising.difference_update(ids)
        STATE.loaded_loras = lora_key(jobs[0].params)
    else:
        results = {}
    if job_id not in ids:
        # The woken job did not run: its queue entry comes back once RQ is done with it.
        owe_entry(JOBS, job_id)
    outcome = dict(results.get(job_id) or {"served_instead": ids})
    if len(ids) > 1 or job_id not in ids:
        outcome.update(batch=ids, queue_entries_removed=removed)
    return outcome


def open_storage_stage() -> None:
    """The worker process's background storage stage (none: store inline)."""
    from .storage_stage import StorageStage

    if STATE.stage is None and settings.ILLU_STORAGE_QUEUE > 0:
        STATE.stage = StorageStage(settings.ILLU_STORAGE_QUEUE)


def close_storage_stage() -> None:
    stage, STATE.stage = STATE.stage, None
    if stage is not None:
        stage.close()
