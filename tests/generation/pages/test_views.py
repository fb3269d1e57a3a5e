"""The generation pages through Django's test client: who sees what, the create form's errors
(the API's rules, beside each field), the gallery, and the image and job actions' effects."""

from __future__ import annotations

import re

import pytest
from django.core.files.storage import default_storage

from accounts.models import Quota
from catalog.models import Lora, StylePreset
from characters.services import character_create
from generation.models import GeneratedImage, GenerationJob, Upload
from tests import photos
from tests.fixtures.pages import field_block, make_image

pytestmark = pytest.mark.django_db

SMALL = {"kind": "text", "prompt": "a lighthouse", "width": "256", "height": "256", "steps": "2"}


def test_create_page_lists_kinds_styles_and_visible_loras(browser_client, make_user):
    Lora.objects.create(
        slug="ink",
        name="Ink lines",
        type="style",
        file="loras/ink.safetensors",
        sha256="a" * 64,
        size_bytes=1,
        min_weight=0.0,
        max_weight=1.2,
    )
    Lora.objects.create(
        slug="secret",
        name="Someone's own",
        type="style",
        is_public=False,
        owner=make_user("bob"),
        file="loras/s.safetensors",
        sha256="b" * 64,
        size_bytes=1,
    )
    html = browser_client.get("/create/").content.decode()
    styles = StylePreset.objects.filter(enabled=True)
    assert styles.exists() and all(f'value="{style.slug}"' in html for style in styles)
    for kind in ("text", "memory", "subject", "character", "control"):
        assert f'value="{kind}"' in html
    assert 'type="range"' in html and 'max="1.2"' in html and "Ink lines" in html
    assert "Someone&#x27;s own" not in html and "Someone's own" not in html
    assert 'name="control_image"' in html and 'value="canny"' in html


def test_width_not_a_multiple_of_8_is_shown_beside_width_and_nothing_is_created(
    browser_client, empty_queues
):
    response = browser_client.post("/create/", {**SMALL, "width": "500"})
    assert response.status_code == 200
    width = field_block(response.content.decode(), "width")
    assert "Must be a multiple of 8 (got 500)." in width and 'aria-invalid="true"' in width
    assert "multiple of 8" not in field_block(response.content.decode(), "height")
    assert GenerationJob.objects.count() == 0


def test_missing_prompt_is_shown_beside_the_prompt(browser_client):
    response = browser_client.post("/create/", {**SMALL, "prompt": ""})
    assert "A prompt is required for text jobs." in field_block(response.content.decode(), "prompt")


def test_domain_errors_land_beside_their_field(browser_client):
    # resolve_params (not the serializer) refuses: the user has no primary avatar.
    response = browser_client.post("/create/", {**SMALL, "kind": "memory"})
    avatar = field_block(response.content.decode(), "avatar")
    assert "You have no primary avatar; upload one first." in avatar


def test_lora_weight_outside_its_range_is_shown_beside_its_slider(browser_client):
    Lora.objects.create(
        slug="ink",
        name="Ink",
        type="style",
        file="loras/ink.safetensors",
        sha256="a" * 64,
        size_bytes=1,
        min_weight=0.0,
        max_weight=1.0,
    )
    response = browser_client.post("/create/", {**SMALL, "lora_ink": "on", "lora_ink_weight": "3"})
    html = response.content.decode()
    assert "Weight 3.0 for &#x27;ink&#x27; is outside 0.0..1.0." in html
    assert GenerationJob.objects.count() == 0


def test_quota_refusal_is_shown_at_the_top(browser_client, user):
    Quota.objects.create(user=user, max_concurrent_jobs=0)
    response = browser_client.post("/create/", SMALL)
    html = response.content.decode()
    assert 'role="alert"' in html and "the limit is 0" in html
    assert GenerationJob.objects.count() == 0


def test_a_valid_form_creates_the_job_and_opens_its_page(browser_client, user, empty_queues):
    response = browser_client.post("/create/", {**SMALL, "seed": "42", "num_images": "2"})
    job = GenerationJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.id}/"
    assert job.owner == user and job.params["width"] == 256 and job.params["steps"] == 2
    assert job.params["seeds"] == [42, 43]
    page = browser_client.get(f"/jobs/{job.id}/").content.decode()
    assert f'data-events-url="/api/v1/jobs/{job.id}/events/"' in page
    assert "Cancel this job" in page and "queued" in page


def test_the_form_offers_the_enabled_base_models_and_runs_the_job_on_the_chosen_one(
    browser_client, user, empty_queues
):
    from catalog.models import BaseModel

    BaseModel.objects.create(slug="demo-tiny-b", name="Variant B", source="demo:tiny-sdxl-b")
    BaseModel.objects.create(slug="off", name="Retired", source="demo:tiny-sdxl", enabled=False)
    page = browser_client.get("/create/").content.decode()
    assert "Variant B" in page and "Retired" not in page
    response = browser_client.post("/create/", {**SMALL, "model": "demo-tiny-b"})
    assert response.status_code == 302
    assert GenerationJob.objects.get().params["model"] == "demo-tiny-b"


def test_control_job_stores_the_uploaded_image_and_uses_it(browser_client, user, empty_queues):
    upload = photos.upload_of(photos.astronaut().resize((128, 128)), name="shape.png")
    body = {
        **SMALL,
        "kind": "control",
        "control_type": "depth",
        "control_image": upload,
        "control_scale": "0.7",
        "control_preprocess": "on",
    }
    response = browser_client.post("/create/", body)
    assert response.status_code == 302, response.content.decode()
    job = GenerationJob.objects.get()
    stored = Upload.objects.get(owner=user)
    assert job.params["control"] == {
        "type": "depth",
        "image": str(stored.id),
        "scale": 0.7,
        "preprocess": True,
    }


def test_control_job_without_an_image_names_the_file_field(browser_client):
    response = browser_client.post("/create/", {**SMALL, "kind": "control"})
    assert "This field is required." in field_block(response.content.decode(), "control_image")
    assert Upload.objects.count() == 0


def test_an_invalid_form_stores_no_control_image(browser_client):
    upload = photos.upload_of(photos.astronaut().resize((64, 64)))
    body = {**SMALL, "kind": "control", "control_image": upload, "width": "100"}
    response = browser_client.post("/create/", body)
    assert "Ensure this value is greater than or equal to 256." in field_block(
        response.content.decode(), "width"
    )
    assert Upload.objects.count() == 0


def test_another_users_pages_are_404(browser_client, make_user):
    other = make_user("mallory")
    image = make_image(other)
    character = character_create(owner=other, name="Theirs")
    for path in (
        f"/jobs/{image.job_id}/",
        f"/images/{image.id}/",
        f"/images/{image.id}/download/",
        f"/characters/{character.id}/",
    ):
        response = browser_client.get(path)
        assert response.status_code == 404, path
        assert b"Not found" in response.content and b"Theirs" not in response.content
    assert browser_client.post(f"/jobs/{image.job_id}/cancel/").status_code == 404
    assert browser_client.post(f"/images/{image.id}/delete/").status_code == 404
    assert GeneratedImage.objects.filter(pk=image.pk).exists()


def test_gallery_shows_own_thumbnails_newest_first_and_filters(browser_client, user, make_user):
    older = make_image(user, prompt="older one", consistency_score=0.42)
    newer = make_image(user, kind="memory", prompt="newer one", accepted=False)
    make_image(make_user("bob"), prompt="bob's")
    html = browser_client.get("/gallery/").content.decode()
    assert html.index(f"/images/{newer.id}/") < html.index(f"/images/{older.id}/")
    assert "bob&#x27;s" not in html and "Consistency 0.42" in html
    # The thumbnail's address; its signature (S3 or local) is minted per response and holds
    # the time it was signed, so a URL minted here a second later differs in its query.
    assert default_storage.url(older.thumbnail.name).split("?")[0] + "?" in html
    assert 'alt="Illustration: older one (seed 7)"' in html
    only_memory = browser_client.get("/gallery/?kind=memory").content.decode()
    assert f"/images/{newer.id}/" in only_memory and f"/images/{older.id}/" not in only_memory
    accepted = browser_client.get("/gallery/?accepted=true").content.decode()
    assert f"/images/{older.id}/" in accepted and f"/images/{newer.id}/" not in accepted


def test_gallery_is_paginated(browser_client, user):
    first = make_image(user, prompt="first")
    for index in range(1, 25):
        make_image(user, job=first.job, index=index)
    page_one = browser_client.get("/gallery/").content.decode()
    assert page_one.count('class="card"') == 24 and "Page 1 of 2" in page_one
    page_two = browser_client.get("/gallery/?page=2").content.decode()
    assert page_two.count('class="card"') == 1


def test_image_page_shows_the_image_manifest_and_downloads(browser_client, user):
    image = make_image(user, manifest={"scheduler": "euler", "seed": 7})
    html = browser_client.get(f"/images/{image.id}/").content.decode()
    assert "&quot;scheduler&quot;: &quot;euler&quot;" in html and "Download PNG" in html
    download = browser_client.get(f"/images/{image.id}/download/")
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content).startswith(b"\x89PNG")


def test_deleting_an_image_removes_the_row_and_its_files(
    browser_client, user, django_capture_on_commit_callbacks
):
    image = make_image(user)
    names = [image.file.name, image.thumbnail.name]
    assert all(default_storage.exists(name) for name in names)
    with django_capture_on_commit_callbacks(execute=True):
        response = browser_client.post(f"/images/{image.id}/delete/")
    assert response["Location"] == "/gallery/"
    assert not GeneratedImage.objects.filter(pk=image.pk).exists()
    assert not any(default_storage.exists(name) for name in names)


def test_generate_again_with_the_same_seed_makes_one_image_with_that_seed(
    browser_client, user, empty_queues
):
    image = make_image(user, seed=1234)
    response = browser_client.post(f"/images/{image.id}/again/", {"seed": "same"})
    job = GenerationJob.objects.exclude(pk=image.job_id).get()
    assert response["Location"] == f"/jobs/{job.id}/"
    assert job.params["seeds"] == [1234] and job.params["prompt"] == "a lighthouse"
    browser_client.post(f"/images/{image.id}/again/", {"seed": "new"})
    newest = GenerationJob.objects.order_by("-created_at").first()
    assert newest.params["seed"] is None and newest.params["prompt"] == "a lighthouse"


def test_cancelling_a_queued_job_from_its_page(browser_client, user, empty_queues):
    browser_client.post("/create/", SMALL)
    job = GenerationJob.objects.get()
    response = browser_client.post(f"/jobs/{job.id}/cancel/", follow=True)
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert "The job was cancelled" in response.content.decode()
    again = browser_client.post(f"/jobs/{job.id}/cancel/", follow=True).content.decode()
    assert "already ended with status cancelled" in again


def test_a_queued_job_page_shows_its_queue_position_and_estimated_start(
    browser_client, user, make_user, empty_queues
):
    from generation.services import job_create

    params = {"prompt": "a fox", "width": 256, "height": 256, "steps": 2}
    other = make_user()
    job_create(owner=other, kind="text", params=params)
    job, _ = job_create(owner=user, kind="text", params={**params, "width": 320})
    html = browser_client.get(f"/jobs/{job.id}/").content.decode()
    queue = re.search(r'<p id="job-queue">(.*?)</p>', html, re.S)
    assert queue, "no visible queue position on a queued job's page"
    assert 'id="job-queue-position">2<' in queue.group(1)
    assert re.search(r'<time id="job-queue-start" datetime="\d{4}-\d\d-\d\dT', queue.group(1))
