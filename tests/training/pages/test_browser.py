"""Training in a real browser (Debian's Chromium through Playwright) against uvicorn and a real
worker: start from the character page, watch it live (SSE: steps, loss plot, samples), use it."""

from __future__ import annotations

import re

import pytest

from catalog.models import Lora
from characters.services import character_create, reference_add
from tests import photos
from tests.fixtures.pages import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LIVE_TIMEOUT_MS = 180_000


def expect(target):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def test_start_watch_and_use_a_training(user, empty_queues, start_worker, signed_in):
    character = character_create(owner=user, name="Mira")
    # 256 px: the face is still found (the training crops around it) at a quarter of the cost.
    reference = photos.astronaut().resize((256, 256))
    reference_add(character=character, upload=photos.upload_of(reference))
    start_worker()
    page = signed_in(user)
    page.goto(f"/characters/{character.id}/")
    page.get_by_label("Trigger word").fill("mira_person")
    page.get_by_label("Steps").fill("40")
    page.get_by_label("Add the LoRA to Mira's default LoRAs when done").check()
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url(re.compile(r"/trainings/[0-9a-f-]{36}/$"))
    expect(page.locator("#training-status")).to_have_text("succeeded", timeout=LIVE_TIMEOUT_MS)
    assert page.locator("#training-live").get_attribute("data-live") == "sse"
    points = page.locator("#loss-line").get_attribute("points").split()
    assert len(points) >= 2  # the loss plot drew the steps
    samples = page.locator("#training-samples img")
    expect(samples.first).to_be_visible()
    assert samples.first.evaluate("img => img.complete && img.naturalWidth > 0")
    lora = Lora.objects.get(owner=user)
    expect(page.locator("#trained-lora")).to_have_text(lora.slug)
    screenshot(page, "training-succeeded")

    # The LoRA is the character's now, and the page links to using it.
    page.get_by_role("link", name="Create with Mira").click()
    page.wait_for_url(re.compile(r"/create/"))
    page.goto(f"/characters/{character.id}/")
    expect(page.locator("dl.pairs")).to_contain_text(lora.name)
