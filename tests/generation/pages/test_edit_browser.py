"""The inpaint brush in a real browser (Debian's Chromium through Playwright, against
uvicorn): paint a stroke on the image page's canvas, submit, land on the new job's page, and
find the stroke in the stored mask at the image's own resolution."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from django.core.files.base import ContentFile
from PIL import Image

from generation.models import GeneratedImage, GenerationJob, Upload
from tests.fixtures.pages import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SIDE = 256


def stored_image(owner) -> GeneratedImage:
    job = GenerationJob.objects.create(
        owner=owner,
        kind="text",
        status="succeeded",
        params={"prompt": "a lighthouse", "width": SIDE, "height": SIDE, "loras": []},
    )
    buffer = io.BytesIO()
    Image.new("RGB", (SIDE, SIDE), (40, 90, 160)).save(buffer, format="PNG")
    image = GeneratedImage(job=job, width=SIDE, height=SIDE, seed=3)
    image.file.save("image.png", ContentFile(buffer.getvalue()), save=True)
    return image


def test_painting_a_mask_creates_an_inpaint_job_with_that_mask(user, signed_in):
    from playwright.sync_api import expect

    image = stored_image(user)
    page = signed_in(user)
    page.goto(f"/images/{image.id}/")

    # Submitting before painting is refused in the page; nothing is sent.
    page.get_by_role("button", name="Inpaint").click()
    expect(page.locator("#mask-error")).to_be_visible()
    assert not GenerationJob.objects.filter(kind="inpaint").exists()

    canvas = page.locator("#mask-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.25, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(box["x"] + box["width"] * (0.25 + 0.05 * step), y)
    page.mouse.up()
    screenshot(page, "image-inpaint-brush")
    page.get_by_label("What to paint there").fill("a red door")
    page.get_by_role("button", name="Inpaint").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))

    job = GenerationJob.objects.get(kind="inpaint")
    assert page.url.endswith(f"/jobs/{job.id}/")
    assert job.params["prompt"] == "a red door" and job.params["source_image"] == str(image.id)
    upload = Upload.objects.get(pk=job.params["mask_upload"])
    with upload.image.open("rb") as handle:
        mask = np.asarray(Image.open(io.BytesIO(handle.read())).convert("L"))
    assert mask.shape == (SIDE, SIDE)  # the image's resolution, not the canvas's on screen
    middle = SIDE // 2
    assert mask[middle, SIDE // 3] == 255 and mask[middle, 2 * SIDE // 3] == 255
    assert mask[5, 5] == 0 and mask[SIDE - 5, SIDE - 5] == 0 and mask[middle, 10] == 0
