"""The only bridge between the engine and Django: load the row, run the engine, store the
images, record the outcome. RQ calls ``run_generation_job`` with nothing but the row id."""

from __future__ import annotations

import io
import logging
import os
import socket
import time

from django.core.files.base import ContentFile
from django.db import transaction

from generation.models import GeneratedImage, GenerationJob, JobStatus
from generation.services import job_mark_failed, job_mark_running, job_mark_succeeded

from .engine.errors import EngineError
from .engine.spec import GenerationResult, GenerationSpec
from .runtime import get_engine, resolve_model_source

logger = logging.getLogger(__name__)


class StorageError(Exception):
    code = "storage_error"


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def spec_from_params(params: dict) -> GenerationSpec:
    return GenerationSpec(
        model=resolve_model_source(params["model"]),
        prompt=params["prompt"],
        negative_prompt=params.get("negative_prompt", ""),
        width=params["width"],
        height=params["height"],
        steps=params["steps"],
        guidance_scale=params["guidance_scale"],
        scheduler=params.get("scheduler"),
        seeds=tuple(params["seeds"]),
    )


def run_generation_job(job_id: str) -> dict:
    if not job_mark_running(job_id=job_id, worker_name=worker_identity()):
        status = GenerationJob.objects.filter(pk=job_id).values_list("status", flat=True).first()
        logger.info("job %s not started: status is %s", job_id, status)
        return {"skipped": status}
    job = GenerationJob.objects.get(pk=job_id)
    timings = {"queue_ms": _ms(job.started_at - job.created_at)}
    try:
        result = get_engine().generate(spec_from_params(job.params))
        timings.update(load_ms=result.load_ms, inference_ms=result.inference_ms)
        started = time.perf_counter()
        stored = _store_images(job, result)
        timings["store_ms"] = int((time.perf_counter() - started) * 1000)
    except (EngineError, StorageError) as exc:
        logger.warning("job %s failed: %s", job_id, exc)
        job_mark_failed(job_id=job_id, code=exc.code, message=str(exc), timings=timings)
        return {"status": JobStatus.FAILED}
    except Exception:
        logger.exception("job %s failed unexpectedly", job_id)
        job_mark_failed(
            job_id=job_id,
            code="internal",
            message="The worker hit an unexpected error; the team has the details in the logs.",
            timings=timings,
        )
        return {"status": JobStatus.FAILED}
    if not _commit_images(job_id, stored, timings):
        _delete_files(stored)
        return {"status": "discarded"}
    return {"status": JobStatus.SUCCEEDED, "images": len(stored)}


def _store_images(job: GenerationJob, result: GenerationResult) -> list[GeneratedImage]:
    """Upload every PNG first; rows are written only once all uploads succeeded."""
    images: list[GeneratedImage] = []
    try:
        for index, output in enumerate(result.images):
            buffer = io.BytesIO()
            output.image.save(buffer, format="PNG")
            image = GeneratedImage(
                job=job,
                index=index,
                width=output.image.width,
                height=output.image.height,
                seed=output.seed,
                manifest=output.manifest,
            )
            image.file.save("image.png", ContentFile(buffer.getvalue()), save=False)
            images.append(image)
    except Exception as exc:
        _delete_files(images)
        raise StorageError(f"Could not store the generated images: {exc}") from exc
    return images


def _commit_images(job_id: str, images: list[GeneratedImage], timings: dict) -> bool:
    """Write the rows and the success together; if the job ended meanwhile, write nothing."""
    with transaction.atomic():
        GeneratedImage.objects.bulk_create(images)
        if not job_mark_succeeded(job_id=job_id, timings=timings):
            transaction.set_rollback(True)
            return False
    return True


def _delete_files(images: list[GeneratedImage]) -> None:
    for image in images:
        if image.file.name:
            image.file.storage.delete(image.file.name)


def _ms(delta) -> int:
    return int(delta.total_seconds() * 1000)
