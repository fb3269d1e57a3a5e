"""Fixtures for the page tests: data helpers, and a real Chromium (Debian's package, driven
by Playwright; never a downloaded browser) against the ASGI server and a real worker."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from PIL import Image

from generation.models import GeneratedImage, GenerationJob
from tests.conftest import REPO_ROOT
from tests.lifecycle.conftest import start_worker, wait_for  # noqa: F401 - shared fixtures

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1200, "height": 900}


def png_bytes(color=(90, 120, 200), size=(64, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def make_image(owner, *, kind="text", prompt="a lighthouse", index=0, job=None, **fields):
    """A finished job with one stored image (file and thumbnail), without running a worker."""
    if job is None:
        job = GenerationJob.objects.create(
            owner=owner,
            kind=kind,
            status="succeeded",
            params={
                "prompt": prompt,
                "steps": 2,
                "width": 64,
                "height": 64,
                "seed": None,
                "num_images": 1,
                "loras": [],
                "quality": "draft",
            },
            character=fields.pop("character", None),
        )
    image = GeneratedImage(job=job, index=index, width=64, height=64, seed=fields.pop("seed", 7))
    for name, value in fields.items():
        setattr(image, name, value)
    image.file.save("image.png", ContentFile(png_bytes()), save=False)
    image.thumbnail.save("thumb.webp", ContentFile(png_bytes(size=(32, 32))), save=False)
    image.save()
    return image


@pytest.fixture
def browser(asgi_server, monkeypatch):
    """A headless Chromium; skipped (with the reason) when Debian's chromium is missing."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop on this thread, so Django would refuse the
    # test's own (synchronous) ORM calls. The subprocesses' environment (worker_env, taken
    # before this fixture) does not get the flag: the servers keep Django's check.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def signed_in(browser, asgi_server):
    """signed_in(user, viewport=...) -> a Page signed in through the login form."""
    contexts = []

    def sign_in(user, viewport=DESKTOP):
        context = browser.new_context(base_url=asgi_server, viewport=viewport)
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(f"{user.username}-password-1")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/gallery/")
        return page

    yield sign_in
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
