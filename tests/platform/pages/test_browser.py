"""The pages in a real browser (Debian's Chromium through Playwright) against uvicorn and a
real GPU-worker process: what a person does, and what they see. The module's tests share one
uvicorn and one Chromium (each test signs in in browser contexts of its own, on a database
emptied between tests)."""

from __future__ import annotations

import io
import re

import pytest

from catalog.models import Lora
from generation.models import GenerationJob
from tests import photos
from tests.fixtures.pages import PHONE, screenshot, watch_csp

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LIVE_TIMEOUT_MS = 120_000


@pytest.fixture(autouse=True)
def _on_the_module_site(module_site):
    """Every test here on the module's server and browser (and its storage)."""


@pytest.fixture
def asgi_server(module_site):
    return module_site.url


@pytest.fixture
def browser(module_browser):
    return module_browser


def expect(target):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def png_file(image, name: str) -> dict:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return {"name": name, "mimeType": "image/png", "buffer": buffer.getvalue()}


def assert_every_image_has_alt_text(page) -> None:
    missing = page.eval_on_selector_all("img", "els => els.filter(e => !e.alt.trim()).length")
    assert missing == 0


def assert_fits_a_phone(page) -> None:
    """Nothing on the page makes a phone-width screen scroll sideways."""
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.set_viewport_size(size)
    assert overflow <= 0, f"{page.url} scrolls sideways on a phone"


def fill_text_job(page, *, prompt: str, size: str, steps: str) -> None:
    page.goto("/create/")
    page.get_by_label("Prompt", exact=True).fill(prompt)
    page.get_by_label("Width").fill(size)
    page.get_by_label("Height").fill(size)
    page.get_by_text("Advanced").click()  # a <details>: its fields show once opened
    page.get_by_label("Steps").fill(steps)


def submit_create(page) -> None:
    page.get_by_role("button", name="Create", exact=True).click()


def test_create_watch_progress_and_preview_browse_and_cancel(
    user, make_user, empty_queues, start_worker, signed_in
):
    start_worker()
    page = signed_in(user)

    # The API's rules, shown beside the field; nothing is created.
    fill_text_job(page, prompt="a lighthouse at dusk", size="256", steps="60")
    page.get_by_label("Width").fill("500")
    submit_create(page)
    expect(page.locator("#field-width .errorlist")).to_have_text(
        "Must be a multiple of 8 (got 500)."
    )
    expect(page.get_by_label("Width")).to_have_attribute("aria-invalid", "true")
    assert not GenerationJob.objects.exists()
    screenshot(page, "create-validation-error")

    # A text job: a live preview while it runs (every 5 steps; 60 steps leave the page the
    # time to show one), progress over SSE to 100 %, then the image on the same page.
    page.get_by_label("Width").fill("256")
    page.get_by_text("Advanced").click()
    page.get_by_label("Steps").fill("60")
    submit_create(page)
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    job_url = page.url
    preview = page.locator("#job-preview")
    expect(preview).to_have_attribute(
        "src", re.compile(r"^data:image/jpeg;base64,"), timeout=LIVE_TIMEOUT_MS
    )
    expect(page.locator("#job-preview-figure")).to_be_visible()
    assert preview.evaluate("img => img.complete && img.naturalWidth > 0")
    assert int(page.locator("#job-preview-step").text_content()) % 5 == 0
    screenshot(page, "job-preview")
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("#job-progress")).to_have_attribute("value", "100")
    expect(page.locator("#job-progress-text")).to_have_text("Step 60 of 60 · 100 %")
    live = page.locator("#job-live")
    assert live.get_attribute("data-live") == "sse"
    assert int(live.get_attribute("data-progress-events")) >= 1
    # The result replaces the preview: a preview is never one of the job's images.
    expect(page.locator("#job-preview-figure")).to_be_hidden()
    result_image = page.locator("#job-result .image-grid img")
    expect(result_image).to_have_count(1)
    assert result_image.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(page.get_by_role("button", name="Cancel this job")).to_have_count(0)
    assert_fits_a_phone(page)
    screenshot(page, "job-succeeded")

    # The gallery shows it; its page has the parameters and a working download.
    page.get_by_role("link", name="Gallery").click()
    cards = page.locator(".image-grid .card")
    expect(cards).to_have_count(1)
    thumbnail = cards.first.locator("img")
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth > 0")
    assert "a lighthouse at dusk" in thumbnail.get_attribute("alt")
    expect(cards.first).to_contain_text("Consistency: not scored")
    assert_every_image_has_alt_text(page)
    screenshot(page, "gallery")
    thumbnail.click()
    page.wait_for_url(re.compile(r"/images/[0-9a-f-]{36}/$"))
    expect(page.locator(".params")).to_contain_text("a lighthouse at dusk")
    download = page.request.get(page.get_by_role("link", name="Download PNG").get_attribute("href"))
    assert download.ok and download.body().startswith(b"\x89PNG")
    assert_every_image_has_alt_text(page)
    page.get_by_text("Everything needed to reproduce it").click()  # the manifest, opened
    assert_fits_a_phone(page)
    screenshot(page, "image")

    # A long job, with the event stream blocked: the page falls back to polling, and the
    # cancel button stops it part-way.
    page.route("**/api/v1/jobs/*/events/", lambda route: route.abort())
    # 512 px makes each step slower, so polling sees it running on a fast machine too.
    fill_text_job(page, prompt="a very long job", size="512", steps="150")
    submit_create(page)
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    # A function, not an expression: Playwright evaluates an expression string with eval,
    # which the page's Content-Security-Policy refuses.
    page.wait_for_function(
        "() => Number(document.getElementById('job-step').textContent) >= 2",
        timeout=LIVE_TIMEOUT_MS,
    )
    assert page.locator("#job-live").get_attribute("data-live") == "poll"
    page.get_by_role("button", name="Cancel this job").click()
    expect(page.locator("#job-status")).to_have_text("cancelled", timeout=60_000)
    expect(page.locator("#job-result")).to_contain_text("The job was cancelled at step")
    cancelled_at = int(page.locator("#job-step").text_content())
    assert 2 <= cancelled_at < 150
    expect(page.locator("#job-result .image-grid img")).to_have_count(0)
    screenshot(page, "job-cancelled")

    # Another user: the job page does not exist for them.
    other = signed_in(make_user("mallory"))
    response = other.goto(job_url)
    assert response.status == 404
    expect(other.get_by_role("heading", name="Not found")).to_be_visible()
    screenshot(other, "not-found")


def test_phone_width_and_keyboard(user, signed_in):
    # A registry row is enough for the form (nothing is generated here).
    Lora.objects.create(
        slug="ink",
        name="Ink lines",
        type="style",
        file="loras/ink.safetensors",
        sha256="a" * 64,
        size_bytes=1,
        default_weight=0.8,
        max_weight=1.5,
    )
    page = signed_in(user, viewport=PHONE)
    for path in ("/create/", "/gallery/", "/characters/", "/avatars/"):
        page.goto(path)
        assert_fits_a_phone(page)
    page.goto("/create/")
    screenshot(page, "create-phone")  # with the LoRA slider
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    # The kind radios are reachable by keyboard and switch the visible sections.
    page.get_by_role("radio", name=re.compile("^Control")).focus()
    page.keyboard.press("Space")
    expect(page.get_by_label("Control image")).to_be_visible()
    expect(page.get_by_label("Photo", exact=True)).to_be_hidden()
    # A LoRA's weight slider moves with the arrow keys and shows its value beside it.
    expect(page.locator("#lora-ink-value")).to_have_text("0.80")
    page.get_by_label("Ink lines weight").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#lora-ink-value")).to_have_text("0.85")

    # Signing out lands on the login page; the pages are closed again.
    page.get_by_role("button", name=re.compile("^Sign out")).click()
    page.wait_for_url("**/login/")
    screenshot(page, "login")
    page.goto("/gallery/")
    assert page.url.endswith("/login/?next=/gallery/")


def test_avatars_and_characters(user, signed_in):
    page = signed_in(user)
    page.get_by_role("link", name="My photos").click()
    page.get_by_label("Photo", exact=True).set_input_files(png_file(photos.astronaut(), "me.png"))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".messages")).to_contain_text("a face was found")
    card = page.locator(".image-grid .card")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("face found")
    expect(card).to_contain_text("primary")

    # No face: refused with the reason beside the field, then kept on purpose.
    page.get_by_label("Photo", exact=True).set_input_files(png_file(photos.no_face(), "cup.png"))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#field-image .errorlist")).to_have_text(
        "Exactly one face is needed; no face was found."
    )
    screenshot(page, "avatars-no-face-refused")
    page.get_by_label("Photo", exact=True).set_input_files(png_file(photos.no_face(), "cup.png"))
    page.get_by_label("Keep without a face").check()
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".image-grid .card")).to_have_count(2)
    expect(page.locator(".image-grid")).to_contain_text("no face found")
    assert_every_image_has_alt_text(page)
    screenshot(page, "avatars")

    # A character with a reference photo, then the reference removed.
    page.get_by_role("link", name="Characters").click()
    page.get_by_label("Name").fill("Astro")
    page.get_by_label("Trigger words").fill("astro_person")
    page.get_by_role("button", name="Create character").click()
    expect(page.get_by_role("heading", name="Astro", exact=True)).to_be_visible()
    page.get_by_label("Reference photo", exact=True).set_input_files(
        png_file(photos.astronaut(), "a.png")
    )
    page.get_by_role("button", name="Add reference photo").click()
    references = page.locator("section[aria-labelledby=references-heading] .card")
    expect(references).to_have_count(1)
    expect(references).to_contain_text("face found")
    assert_every_image_has_alt_text(page)
    screenshot(page, "character")
    page.get_by_role("link", name="Characters").click()
    expect(page.locator(".image-grid .card")).to_contain_text("1 reference")
    screenshot(page, "characters")
    page.locator(".image-grid .card a").click()
    page.get_by_role("button", name=re.compile("^Remove")).click()
    expect(page.get_by_text("No reference photos yet")).to_be_visible()


def test_api_docs_render_every_operation(browser, asgi_server):
    """Swagger UI at /api/docs/ renders in a real browser from locally served assets, under the
    Content-Security-Policy (nothing refused)."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    refused: list[str] = []
    watch_csp(page, refused)
    page.goto(f"{asgi_server}/api/docs/")
    page.wait_for_selector(".opblock", timeout=30000)
    paths = set(page.locator(".opblock-summary-path").all_inner_texts())
    assert {"/api/v1/jobs/", "/api/v1/jobs/{job_id}/cancel/", "/v1/images/memory"} <= {
        path.replace("\u200b", "") for path in paths
    }
    assert page.locator(".opblock").count() >= 30
    screenshot(page, "api-docs")
    page.close()
    assert not refused, f"refused under the Content-Security-Policy: {refused}"
