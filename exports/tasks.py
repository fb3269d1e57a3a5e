"""The RQ entry point of book exports (a CPU worker: ``manage.py export_worker``). RQ calls
``run_export`` with the row id: claim it, wait for upscales where a page's image is below the
book's dpi (back on the queue, holding no worker), else write the PDF or ZIP page by page
(progress and a cancel check after each), store it, and succeed."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from django.core.files import File
from django.db import transaction
from redis.exceptions import RedisError
from rq.timeouts import JobTimeoutException

from generation.models import GenerationJob
from work.lifecycle import (
    work_claim,
    work_end_cancelled,
    work_fail,
    work_put_back,
    work_schedule_retry,
    work_succeed,
)
from work.models import ACTIVE_STATUSES
from work.redis_channel import cancel_requested, publish_event

from .heartbeat import export_heartbeat, worker_name
from .models import BookExport, ExportFormat
from .page_sizes import PageGeometry
from .pdf import PdfPage, write_pdf
from .sources import ExportError, book_summary, open_image, page_manifest, read_png
from .upscales import PageImage, UpscaleFailed, plan_page_images, start_upscales
from .work_kind import EXPORTS, WAITING_CODE
from .zip_bundle import write_zip

logger = logging.getLogger(__name__)


class ExportCancelled(Exception):
    pass


def run_export(export_id: str) -> dict:
    if not work_claim(EXPORTS, row_id=export_id, worker_name=worker_name()):
        status = BookExport.objects.filter(pk=export_id).values_list("status", flat=True).first()
        logger.info("export %s not started: status is %s", export_id, status)
        return {"skipped": status}
    export = BookExport.objects.select_related("book", "owner").get(pk=export_id)
    try:
        with export_heartbeat(export_id):
            return _run(export)
    except ExportCancelled:
        work_end_cancelled(EXPORTS, row_id=export_id)
        return {"status": "cancelled"}
    except (ExportError, UpscaleFailed) as exc:
        work_fail(EXPORTS, row_id=export_id, code=exc.code, message=str(exc))
        return {"status": "failed"}
    except JobTimeoutException:
        work_fail(EXPORTS, row_id=export_id, code="timeout", message=EXPORTS.timeout_message())
        return {"status": "failed"}
    except RedisError as exc:
        message = "The job queue (Redis) stopped answering while the export ran."
        logger.warning("export %s will be retried: %s", export_id, exc)
        return {"status": work_schedule_retry(EXPORTS, row_id=export_id, code="queue_unavailable",
                                              message=message)}  # fmt: skip
    except Exception:
        logger.exception("export %s failed unexpectedly", export_id)
        message = "The export hit an unexpected error; the team has the details in the logs."
        work_fail(EXPORTS, row_id=export_id, code="internal", message=message)
        return {"status": "failed"}


def _run(export: BookExport) -> dict:
    pages = list(
        export.book.pages.select_related("selected_image__job").order_by("order", "created_at")
    )
    without = [number for number, page in enumerate(pages, 1) if page.selected_image is None]
    if not pages or without:
        where = f"page {without[0]} has" if without else "the book has no pages and"
        raise ExportError("not_ready", f"Nothing to export: {where} no selected image.")
    export.pages_total = len(pages)
    BookExport.objects.filter(pk=export.pk).update(pages_total=len(pages), pages_done=0)
    if export.format == ExportFormat.PDF:
        printed = _images_to_print(export, pages)
        if printed is None:
            return {"status": "waiting"}
    else:
        printed = [PageImage(str(p.id), p.order, p.selected_image, p.selected_image) for p in pages]
    on_page = _progress(export)
    with tempfile.TemporaryDirectory(prefix="illu-export-") as folder:
        path = Path(folder) / f"book.{export.format}"
        if export.format == ExportFormat.PDF:
            geometry = PageGeometry.of(export.book)
            texts = {str(page.id): page.text for page in pages}
            pdf_pages = (
                PdfPage(open_image(entry.printed), texts[entry.page_id]) for entry in printed
            )
            write_pdf(path, pdf_pages, geometry, title=export.book.title, on_page=on_page)
        else:
            entries = ((read_png(page.selected_image), page_manifest(page)) for page in pages)
            write_zip(path, entries, book_summary(export.book), on_page=on_page)
        on_page(len(pages))  # a cancel that came during the last page still counts
        with path.open("rb") as handle:
            export.file.save(path.name, File(handle), save=False)
    changes = {"file": export.file.name, "pages_done": len(pages)}
    if not work_succeed(EXPORTS, row_id=str(export.id), changes=changes):
        export.file.storage.delete(export.file.name)  # cancelled meanwhile: keep nothing
        return {"status": "discarded"}
    return {"status": "succeeded", "pages": len(pages)}


def _images_to_print(export: BookExport, pages) -> list[PageImage] | None:
    """Each page's image at the book's dpi, or None when the export went back to the queue to
    wait for upscale jobs (made now, or made before and not ended yet)."""
    with transaction.atomic():
        # Locked: an upscale cannot end between this look and the put-back below, so its
        # wake-up always finds the export queued.
        upscales = export.upscale_jobs.values_list("pk", flat=True)
        list(GenerationJob.objects.select_for_update().filter(pk__in=list(upscales)))
        printed, wanted = plan_page_images(export, pages)
        pending = [entry for entry in printed if _waiting(entry)]
        if not wanted and not pending:
            return printed
        start_upscales(export, wanted)
        count = len(wanted) + len(pending)
        message = f"Waiting for {count} upscale job(s): page images below {export.book.dpi} dpi."
        work_put_back(
            EXPORTS,
            row_id=str(export.id),
            changes={"error": {"code": WAITING_CODE, "message": message}},
            count_attempt=False,
            enqueue=False,
            announce={"waiting_for_upscales": count},
        )
    logger.info("export %s waits for %d upscale job(s)", export.id, count)
    return None


def _waiting(entry: PageImage) -> bool:
    return entry.upscale_job is not None and entry.upscale_job.status in ACTIVE_STATUSES


def _progress(export: BookExport):
    def on_page(done: int) -> None:
        if cancel_requested(str(export.id)):
            raise ExportCancelled
        BookExport.objects.filter(pk=export.pk).update(pages_done=done)
        total = export.pages_total
        progress = {"step": done, "total": total, "fraction": round(done / total, 4)}
        publish_event(str(export.id), "progress", progress)

    return on_page
