"""A page whose image is below the book's dpi is enlarged through the tiled upscale job: the
export (a real `export_worker --burst` process) makes the job and goes back to the queue
holding no worker; a real GPU worker runs the upscale, and its end wakes the export, which
then prints the upscaled image."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from exports.models import BookExport
from tests.exports.books import illustrated_book
from tests.exports.test_exports import start
from work.redis_queue import get_queue

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_small_image_is_upscaled_by_the_upscale_job_before_it_is_printed(
    user, api, empty_queues, run_export_burst, run_worker_burst
):
    get_queue("exports").empty()
    # 1.25 in with bleed at 96 dpi: 120 px; the 64 px image needs x2 (the upscale job's).
    book = illustrated_book(user, pages=[("a fox", "The fox.")], size=(64, 64), dpi=96)
    export = start(api, book, "pdf")

    run_export_burst()
    row = BookExport.objects.get(pk=export["id"])
    assert row.status == "queued" and row.error["code"] == "waiting_for_upscale"
    [upscale] = row.upscale_jobs.all()
    assert upscale.kind == "upscale" and upscale.params["scale"] == 2
    assert get_queue("exports").count == 0  # waiting holds no queue entry and no worker

    run_worker_burst()  # the upscale runs; its end puts the export back on its queue
    upscale.refresh_from_db()
    assert upscale.status == "succeeded"
    assert get_queue("exports").count == 1

    run_export_burst()
    row.refresh_from_db()
    assert row.status == "succeeded", row.error
    with row.file.open("rb") as handle:
        [page] = PdfReader(io.BytesIO(handle.read())).pages
    [image] = page.images
    assert image.image.size == (120, 120)
    upscaled = upscale.images.get()
    assert (upscaled.width, upscaled.height) == (128, 128)
