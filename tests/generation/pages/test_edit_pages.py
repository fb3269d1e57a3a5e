"""The image page's edit actions: each makes a job of its kind from the image and opens that
job's page; a brush mask is stored only with its job; another user's image is a 404."""

from __future__ import annotations

import base64
import io
import re

import pytest
from PIL import Image

from generation.models import GenerationJob, Upload
from tests.fixtures.pages import make_image

pytestmark = pytest.mark.django_db


def mask_data_url(size=(64, 64), box=(10, 10, 30, 30)) -> str:
    mask = Image.new("RGB", size, "black")
    mask.paste((255, 255, 255), box)
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize(
    ("action", "extra", "kind"),
    [
        ("vary", {"prompt": "in the snow", "strength": "0.4"}, "img2img"),
        ("upscale", {"scale": "4", "upscale_method": "lanczos"}, "upscale"),
        ("repair", {"strength": "0.5"}, "face_repair"),
    ],
)
def test_each_action_creates_its_job_and_opens_its_page(
    browser_client, user, action, extra, kind, empty_queues
):
    image = make_image(user)
    page = browser_client.get(f"/images/{image.id}/")
    assert f'action="/images/{image.id}/edit/"' in page.content.decode()
    response = browser_client.post(f"/images/{image.id}/edit/", {"action": action, **extra})
    job = GenerationJob.objects.get(kind=kind)
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.id}/"
    assert job.params["source_image"] == str(image.id)
    if kind == "upscale":
        assert (job.params["width"], job.params["scale"]) == (256, 4)
    if kind == "img2img":
        assert job.params["prompt"] == "in the snow" and job.params["strength"] == 0.4


def test_inpaint_stores_the_painted_mask_with_its_job(browser_client, user, empty_queues):
    image = make_image(user)
    response = browser_client.post(
        f"/images/{image.id}/edit/",
        {"action": "inpaint", "prompt": "a hat", "mask": mask_data_url()},
    )
    job = GenerationJob.objects.get(kind="inpaint")
    assert response["Location"] == f"/jobs/{job.id}/"
    mask = Upload.objects.get(pk=job.params["mask_upload"])
    assert (mask.width, mask.height) == (64, 64)


def test_inpaint_without_paint_or_with_a_wrong_size_mask_stores_nothing(browser_client, user):
    image = make_image(user)
    url = f"/images/{image.id}/edit/"
    response = browser_client.post(url, {"action": "inpaint", "prompt": "a hat"}, follow=True)
    assert "Paint over the part of the image" in response.content.decode()
    wrong = {"action": "inpaint", "prompt": "x", "mask": mask_data_url(size=(32, 32))}
    response = browser_client.post(url, wrong, follow=True)
    assert re.search(r"mask: .*must be the source", response.content.decode())
    assert not GenerationJob.objects.filter(kind="inpaint").exists()
    assert not Upload.objects.exists()


def test_editing_another_users_image_is_404(browser_client, make_user):
    theirs = make_image(make_user("mallory"))
    response = browser_client.post(f"/images/{theirs.id}/edit/", {"action": "vary"})
    assert response.status_code == 404
    assert not GenerationJob.objects.filter(kind="img2img").exists()
