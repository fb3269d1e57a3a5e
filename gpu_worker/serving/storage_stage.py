"""The storage stage: score identity where the run left it (``output.score_deferred``) and
against the job's further characters (``output.score_characters``),
encode PNG and thumbnail, upload, commit the rows and the success.
In a worker it runs on a background thread while the next batch denoises, with at most
ILLU_STORAGE_QUEUE jobs waiting (the GPU loop blocks beyond that: back-pressure). A job is
``succeeded`` only once its objects are stored and its rows committed; a worker killed with
jobs here leaves them ``running`` for the reconciler to run again, and since rows are only
written by the commit, no job ever ends with two sets of images."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from generation.models import GeneratedImage, GenerationJob
from generation.work_kind import JOBS, QUEUE_BY_PRIORITY
from work.lifecycle import work_succeed
from work.models import WorkStatus
from work.redis_channel import publish_event

from ..failures import settle
from ..image_storage import delete_stored_files, store_images
from .output import JobOutput, score_characters, score_deferred

logger = logging.getLogger(__name__)

# (job, output) pairs of one engine pass: stored together, with one finished_at.
StoredBatch = list[tuple[GenerationJob, JobOutput]]


def store_job(job: GenerationJob, output: JobOutput, finished_at: datetime | None = None) -> dict:
    """Score the images the run left unscored, upload, then commit one job's images; the
    outcome as the RQ result reports it."""
    job_id = str(job.id)
    try:
        score_deferred(output)
        score_characters(job, output)
        started = time.perf_counter()
        _upload(job, output)
        output.add_time("store_ms", int((time.perf_counter() - started) * 1000))
    except Exception as exc:
        return settle(JOBS, job_id, exc, changes=output.row_changes())
    if not _commit(job, output, finished_at=finished_at):
        delete_stored_files(output.images)
        return {"status": "discarded"}
    return {"status": WorkStatus.SUCCEEDED, "images": len(output.images)}


def _upload(job: GenerationJob, output: JobOutput) -> None:
    """Upload every PNG and thumbnail first; rows are written only once all uploads succeeded."""
    keep_rejected = settings.ILLU_KEEP_REJECTED_IMAGES
    output.generated = len(output.images)
    kept = [image for image in output.images if image.accepted or keep_rejected]
    for index, image in enumerate(kept):
        image.index = index
    output.images = kept
    output.conditioning_records = store_images(job, kept, output.conditioning)


def _commit(job: GenerationJob, output: JobOutput, finished_at=None) -> bool:
    """Write the rows and the success together; if the job ended meanwhile, write nothing."""
    changes = {
        **output.row_changes(),
        "generated_count": output.generated,
        "accepted_count": sum(1 for image in output.images if image.accepted),
        "conditioning": output.conditioning_records,
    }
    with transaction.atomic():
        GeneratedImage.objects.bulk_create(output.images)
        if not work_succeed(JOBS, row_id=str(job.id), changes=changes, finished_at=finished_at):
            transaction.set_rollback(True)
            return False
    for image in output.images:
        publish_event(str(job.id), "image", {"id": str(image.id), "index": image.index})
    return True


def store_batch(batch: StoredBatch) -> dict[str, dict]:
    from core.log_context import job_log_context

    finished_at = timezone.now()  # jobs of one pass end together
    results = {}
    for job, output in batch:
        # On the storage thread too, every line names its job.
        with job_log_context(str(job.id), job.owner.username, QUEUE_BY_PRIORITY[job.priority]):
            results[str(job.id)] = store_job(job, output, finished_at)
    return results


class StorageStage:
    """One background thread storing batches in order; ``capacity`` bounds the jobs that
    wait for it (a batch larger than that still goes when the stage is empty)."""

    def __init__(self, capacity: int, on_stored: Callable[[dict[str, dict]], None] | None = None):
        self.capacity = max(1, capacity)
        self.on_stored = on_stored
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="illu-store")
        self._pending: dict[str, float] = {}
        self._changed = threading.Condition()
        self.waited_ms = 0  # GPU-loop time spent blocked on back-pressure

    def pending_ids(self) -> set[str]:
        with self._changed:
            return set(self._pending)

    def submit(self, batch: StoredBatch) -> None:
        ids = [str(job.id) for job, _ in batch]
        started = time.perf_counter()
        with self._changed:
            while self._pending and len(self._pending) + len(ids) > self.capacity:
                self._changed.wait()
            for job_id in ids:
                self._pending[job_id] = time.monotonic()
        self.waited_ms += int((time.perf_counter() - started) * 1000)
        self._executor.submit(self._store, batch, ids)

    def _store(self, batch: StoredBatch, ids: list[str]) -> None:
        close_old_connections()
        try:
            results = store_batch(batch)
            if self.on_stored is not None:
                self.on_stored(results)
        except Exception:  # the stage must outlive one bad batch; rows stay for the reconciler
            logger.exception("storing jobs %s failed", ", ".join(ids))
        finally:
            close_old_connections()
            with self._changed:
                for job_id in ids:
                    self._pending.pop(job_id, None)
                self._changed.notify_all()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every handed-off job is stored; True when none is left."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while self._pending:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True

    def close(self) -> None:
        self.drain()
        self._executor.shutdown(wait=True)
