"""The owner's book page in a real browser (Debian's Chromium through Playwright) against
uvicorn and a real worker: create a book, add pages, generate and watch each page get its
image live (SSE), candidates side by side, drag to reorder, share a link, see the
customer's decision on the storyboard, and export the book (ZIP, through a real export
worker) to a download link."""

from __future__ import annotations

import re

import pytest

from books.models import Book
from catalog.models import StylePreset
from tests.fixtures.pages import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LIVE_TIMEOUT_MS = 180_000


def expect(target):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


@pytest.fixture
def small_books(worker_env, settings):
    """Pages drawn at 256 px by the servers and workers this test starts."""
    worker_env.update(ILLU_BOOK_IMAGE_SCALE="0.25")
    settings.ILLU_BOOK_IMAGE_SCALE = 0.25


def test_storyboard_generate_reorder_share_and_export(
    small_books, user, empty_queues, start_worker, signed_in, browser, run_export_burst
):
    page = signed_in(user)
    page.goto("/books/")
    page.get_by_label("Title").fill("The lighthouse")
    page.get_by_role("button", name="Start a book").click()
    page.wait_for_url(re.compile(r"/books/[0-9a-f-]{36}/$"))
    quick = StylePreset.objects.create(slug="book-quick", name="Quick", steps=2)
    Book.objects.update(style=quick, candidates_per_page=2)
    for scene, words in [("a lighthouse", "The light."), ("a storm", "The storm.")]:
        page.get_by_label("Scene (prompt)").fill(scene)
        page.get_by_label("Text printed on the page").fill(words)
        page.get_by_role("button", name="Add the page").click()
    expect(page.locator("#storyboard li[data-page]")).to_have_count(2)

    start_worker()
    page.get_by_role("button", name="Generate the pages").click()
    images = page.locator("#storyboard img.selected-image")
    expect(images).to_have_count(2, timeout=LIVE_TIMEOUT_MS)  # live: no reload by the test
    expect(page.locator("#book-pages-done")).to_have_text("2")
    expect(page.locator("#storyboard .candidates").first.locator("img")).to_have_count(2)
    assert images.first.evaluate("img => img.complete && img.naturalWidth > 0")
    screenshot(page, "book-generated", jpeg=True)  # 8400 px of generated images

    first, second = page.locator("#storyboard li[data-page]").all()
    first_id, second_id = first.get_attribute("data-page"), second.get_attribute("data-page")
    # Headless Chromium does not start a native drag from synthetic mouse moves; the page's
    # own drag handlers get the browser's real DataTransfer through dispatched drag events.
    transfer = page.evaluate_handle("() => new DataTransfer()")
    second.dispatch_event("dragstart", {"dataTransfer": transfer})
    first.dispatch_event("dragover", {"dataTransfer": transfer})
    with page.expect_response(re.compile(r"/pages/reorder/$")) as reorder:
        first.dispatch_event("drop", {"dataTransfer": transfer})
    assert reorder.value.status == 200
    expect(page.locator("#storyboard li[data-page]").first).to_have_attribute(
        "data-page", second_id
    )
    page.reload()
    order = [
        li.get_attribute("data-page") for li in page.locator("#storyboard li[data-page]").all()
    ]
    assert order == [second_id, first_id]

    page.get_by_label("Who it is for").fill("Anna (customer)")
    page.get_by_role("button", name="Make a link").click()
    message = page.locator(".messages").inner_text()
    url = re.search(r"https?://\S+/share/\S+/", message).group(0)

    customer = browser.new_context().new_page()
    customer.goto(url)
    expect(customer.locator("h1")).to_have_text("The lighthouse")
    customer.locator(f"#page-{first_id}").get_by_role("button", name="Approve").click()
    expect(customer.locator(f"#page-{first_id} .review-status")).to_have_text("Approved")

    page.reload()
    decision = page.locator(f"#page-{first_id} .decision")
    expect(decision).to_contain_text("Anna (customer)")
    expect(decision).to_contain_text("UTC")
    expect(page.locator(f"#page-{first_id} .review-status")).to_have_text("approved")

    page.locator("#export-zip").click()
    expect(page.locator("#book-exports .book-export .status")).to_have_text("queued")
    run_export_burst()
    page.reload()
    download = page.locator("#book-exports .export-download")
    expect(download).to_have_count(1)
    fetched = page.request.get(download.get_attribute("href"))
    assert fetched.status == 200 and fetched.body()[:2] == b"PK"  # a ZIP archive
