"""Book exports through the API, run by the export task in-process: the PDF parses back with
its pages, boxes, image resolution, embedded font, text and sRGB intent; the ZIP's manifest
matches the pages; cancel; bad input; another user's book or export is 404."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from pypdf import PdfReader

from books.models import BookStatus
from exports.models import BookExport
from exports.tasks import run_export
from tests.conftest import client_for
from tests.exports.books import illustrated_book
from work.redis_queue import get_queue

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = [
    ("a lighthouse at dawn", "Once upon a time, a lighthouse stood alone."),
    ("a boat in a storm", "One night a storm came.\nThe keeper lit the lamp."),
    ("a calm sea", "Morning came, and the sea was calm."),
]


@pytest.fixture
def export_queue(empty_queues):
    queue = get_queue("exports")
    queue.empty()
    yield queue
    queue.empty()


def start(api, book, fmt: str) -> dict:
    response = api.post(f"/api/v1/books/{book.id}/export/", {"format": fmt}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def finished(api, book, export: dict) -> dict:
    assert run_export(export["id"])["status"] == "succeeded"
    body = api.get(f"/api/v1/books/{book.id}/exports/{export['id']}/").json()
    assert body["status"] == "succeeded", body["error"]
    return body


def stored_file(export_id) -> bytes:
    with BookExport.objects.get(pk=export_id).file.open("rb") as handle:
        return handle.read()


def box(page, name: str) -> list[float]:
    return [float(value) for value in page[name]]


def test_the_pdf_has_a_page_per_book_page_with_boxes_resolution_text_and_srgb(
    user, api, export_queue
):
    # 1 x 1 in trimmed, 1/8 in bleed, 72 dpi: pages of 90 x 90 pt; a wide image is cropped.
    book = illustrated_book(user, pages=PAGES, size=[(128, 128), (160, 120), (128, 128)])
    export = start(api, book, "pdf")
    assert export["status"] == "queued" and export["url"] is None
    assert export_queue.count == 1
    body = finished(api, book, export)
    assert body["progress"] == {"step": 3, "total": 3, "fraction": 1.0}
    assert body["url"]

    reader = PdfReader(io.BytesIO(stored_file(export["id"])))
    assert len(reader.pages) == len(PAGES)
    for page, (_, text) in zip(reader.pages, PAGES, strict=True):
        assert box(page, "/MediaBox") == [0, 0, 90, 90]
        assert box(page, "/BleedBox") == [0, 0, 90, 90]
        assert box(page, "/TrimBox") == [9, 9, 81, 81]
        [image] = page.images
        # Full bleed at the book's dpi: 1.25 in x 72 dpi = 90 px each way.
        assert image.image.size == (90, 90) and image.image.mode == "RGB"
        words = " ".join(page.extract_text().split())
        assert " ".join(text.split()) in words
        fonts = page["/Resources"]["/Font"]
        # Every font named is a TrueType font embedded in the file.
        assert fonts and all(
            "/FontFile2" in font.get_object()["/FontDescriptor"] for font in fonts.values()
        )
    [intent] = reader.trailer["/Root"]["/OutputIntents"]
    assert intent["/OutputConditionIdentifier"] == "sRGB IEC61966-2.1"
    assert intent["/DestOutputProfile"].get_object()["/N"] == 3
    book.refresh_from_db()
    assert book.status == BookStatus.EXPORTED


def test_the_zip_holds_each_page_png_and_a_manifest_that_matches_the_pages(user, api, export_queue):
    book = illustrated_book(user, pages=PAGES)
    export = start(api, book, "zip")
    finished(api, book, export)

    bundle = zipfile.ZipFile(io.BytesIO(stored_file(export["id"])))
    assert sorted(bundle.namelist()) == ["001.png", "002.png", "003.png", "manifest.json"]
    manifest = json.loads(bundle.read("manifest.json"))
    assert manifest["book"]["title"] == book.title and manifest["book"]["dpi"] == 72
    pages = list(book.pages.select_related("selected_image__job").order_by("order"))
    assert len(manifest["pages"]) == len(pages)
    for entry, page in zip(manifest["pages"], pages, strict=True):
        image = page.selected_image
        assert entry["page_id"] == str(page.id) and entry["text"] == page.text
        assert entry["prompt"] == page.prompt and entry["seed"] == image.seed
        assert entry["image_id"] == str(image.id) and entry["job_id"] == str(image.job_id)
        assert entry["model"] == {"source": "demo:tiny-sdxl"}
        assert entry["loras"] == [{"name": "hero", "weight": 0.7}]
        assert entry["scores"]["consistency"] == 0.8
        with image.file.open("rb") as handle:
            assert bundle.read(entry["file"]) == handle.read()  # full resolution, as stored


def test_a_queued_export_is_cancelled_at_once_and_never_runs(user, api, export_queue):
    book = illustrated_book(user, pages=PAGES[:1])
    export = start(api, book, "pdf")
    url = f"/api/v1/books/{book.id}/exports/{export['id']}/cancel/"
    response = api.post(url)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert export_queue.count == 0
    assert run_export(export["id"]) == {"skipped": "cancelled"}
    assert api.post(url).json()["error"]["code"] == "conflict"
    row = BookExport.objects.get(pk=export["id"])
    assert row.status == "cancelled" and not row.file
    book.refresh_from_db()
    assert book.status != BookStatus.EXPORTED


def test_a_cancel_while_running_stops_it_and_stores_nothing(user, api, export_queue):
    from work.redis_channel import request_cancel

    book = illustrated_book(user, pages=PAGES)
    export = start(api, book, "pdf")
    # The cancel request lands just as a worker takes the export (the flag a running export's
    # cancel sets): it stops after the page it is on.
    request_cancel(export["id"])
    assert run_export(export["id"]) == {"status": "cancelled"}
    row = BookExport.objects.get(pk=export["id"])
    assert row.status == "cancelled" and not row.file and row.pages_done == 0
    assert api.post(f"/api/v1/books/{book.id}/exports/{export['id']}/cancel/").status_code == 409


def test_a_bad_format_is_a_400_naming_format_and_stores_nothing(user, api, export_queue):
    book = illustrated_book(user, pages=PAGES[:1])
    for body in ({"format": "docx"}, {}, {"format": "pdf", "dpi": 600}):
        response = api.post(f"/api/v1/books/{book.id}/export/", body, format="json")
        assert response.status_code == 400
        fields = response.json()["error"]["fields"]
        assert ("format" in fields) or ("dpi" in fields)
    assert not BookExport.objects.exists() and export_queue.count == 0


def test_a_book_with_a_page_without_image_fails_saying_which(user, api, export_queue):
    from books.services import page_create

    book = illustrated_book(user, pages=PAGES[:1])
    page_create(book=book, prompt="an empty page")
    export = start(api, book, "zip")
    assert run_export(export["id"]) == {"status": "failed"}
    body = api.get(f"/api/v1/books/{book.id}/exports/{export['id']}/").json()
    assert body["status"] == "failed" and body["error"]["code"] == "not_ready"
    assert "page 2" in body["error"]["message"]


def test_another_users_book_and_exports_are_404(user, api, make_user, export_queue):
    book = illustrated_book(user, pages=PAGES[:1])
    export = start(api, book, "zip")
    bob = client_for(make_user("bob"))
    base = f"/api/v1/books/{book.id}"
    answers = [
        bob.post(f"{base}/export/", {"format": "pdf"}, format="json"),
        bob.get(f"{base}/exports/"),
        bob.get(f"{base}/exports/{export['id']}/"),
        bob.post(f"{base}/exports/{export['id']}/cancel/"),
    ]
    assert [answer.status_code for answer in answers] == [404] * 4
    assert all(answer.json()["error"]["code"] == "not_found" for answer in answers)
    # Bob's own book does not reach Alice's export either.
    bobs_book = illustrated_book(make_user("carol"), pages=PAGES[:1])
    assert api.get(f"/api/v1/books/{bobs_book.id}/exports/{export['id']}/").status_code == 404
    assert BookExport.objects.get(pk=export["id"]).status == "queued"
    listed = api.get(f"{base}/exports/").json()
    assert [item["id"] for item in listed] == [export["id"]]
