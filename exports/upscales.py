"""The upscale jobs of an export: pages whose selected image is below the book's dpi are
enlarged through the platform's tiled upscale job (the normal job service: quotas, queues,
batching), and the export waits for them without holding a worker: it goes back to the queue
and ``wake_exports_waiting_on`` (a ``job_finished`` receiver) enqueues it once the last one
ended."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from generation.models import GeneratedImage, GenerationJob, JobKind
from generation.services import job_create
from work.models import ACTIVE_STATUSES, WorkStatus
from work.redis_queue import enqueue_or_leave_to_reconciler

from .models import BookExport
from .page_sizes import PageGeometry, upscale_factor
from .work_kind import EXPORTS

logger = logging.getLogger(__name__)

# Upscale jobs run at these steps: a tiled upscale only refines at a low strength.
UPSCALE_STEPS = 20


@dataclass
class PageImage:
    """What a page prints: its selected image, or the upscale of it once that succeeded."""

    page_id: str
    order: int
    selected: GeneratedImage
    printed: GeneratedImage
    upscale_job: GenerationJob | None = None


class UpscaleFailed(Exception):
    code = "upscale_failed"


def _upscale_of(export: BookExport, image: GeneratedImage) -> GenerationJob | None:
    jobs = export.upscale_jobs.filter(params__source_image=str(image.id)).order_by("-created_at")
    return jobs.first()


def plan_page_images(export: BookExport, pages) -> tuple[list[PageImage], list[tuple]]:
    """Each page's image to print, and the (page, image, factor) upscales still to make.
    Raises UpscaleFailed when an upscale this export made failed or was cancelled."""
    geometry = PageGeometry.of(export.book)
    printed, wanted = [], []
    for page in pages:
        image = page.selected_image
        entry = PageImage(str(page.id), page.order, image, image)
        factor = upscale_factor(geometry.enlargement(image.width, image.height))
        if factor is not None:
            job = _upscale_of(export, image)
            if job is None:
                wanted.append((page, image, factor))
            elif job.status == WorkStatus.SUCCEEDED and job.images.exists():
                entry.printed, entry.upscale_job = job.images.first(), job
            elif job.status in (WorkStatus.FAILED, WorkStatus.CANCELLED):
                reason = (job.error or {}).get("message") or job.status
                raise UpscaleFailed(f"The upscale of page {page.order + 1} ended: {reason}")
            else:
                entry.upscale_job = job
        printed.append(entry)
    return printed, wanted


def start_upscales(export: BookExport, wanted: list[tuple]) -> list[GenerationJob]:
    """Create the upscale jobs (enqueued when the caller's transaction commits)."""
    jobs = []
    for page, image, factor in wanted:
        job, _ = job_create(
            owner=export.owner,
            kind=JobKind.UPSCALE,
            params={"source_image": str(image.id), "scale": factor, "steps": UPSCALE_STEPS},
        )
        jobs.append(job)
        logger.info(
            "export %s: page %s's image is %dx%d; upscaling x%d (job %s)",
            export.id, page.order + 1, image.width, image.height, factor, job.id,
        )  # fmt: skip
    export.upscale_jobs.add(*jobs)
    return jobs


def waiting_upscales(export: BookExport) -> int:
    return export.upscale_jobs.filter(status__in=ACTIVE_STATUSES).count()


def wake_exports_waiting_on(sender, *, job_id: str, status: str, **kwargs) -> None:
    """``job_finished`` receiver: enqueue each waiting export that no longer waits for any of
    its upscale jobs. Runs after the job's commit; a lost wake-up is the reconciler's."""
    for export in BookExport.objects.filter(upscale_jobs__id=job_id, status=WorkStatus.QUEUED):
        if waiting_upscales(export) == 0:
            enqueue_or_leave_to_reconciler(EXPORTS, export)
