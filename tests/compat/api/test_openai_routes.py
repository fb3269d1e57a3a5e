"""The OpenAI routes in-process: their error shape and statuses, what they store and refuse.
(The real `openai` client drives a live server in tests/compat/clients/.)"""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from accounts.services import api_token_create
from generation.models import GenerationJob, Upload
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def png_file(image: Image.Image, name: str = "image.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture
def bearer(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user, name='t')[1]}")
    return client


def openai_error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    return error


def test_an_unknown_model_is_a_404_model_not_found_and_nothing_is_made(bearer):
    response = bearer.post(
        "/v1/images/generations", {"prompt": "x", "model": "dall-e-3"}, format="json"
    )
    error = openai_error(response, 404)
    assert (error["code"], error["param"], error["type"]) == (
        "model_not_found", "model", "invalid_request_error"
    )  # fmt: skip
    assert response["x-should-retry"] == "false"
    assert not GenerationJob.objects.exists()


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "x", "size": "100x100"}, "size"),  # the platform's limits, named as sent
        ({"prompt": "x", "size": "big"}, "size"),
        ({"prompt": "x", "n": 11}, "n"),
        ({"prompt": "x", "stream": True}, "stream"),
        ({"prompt": "x", "background": "transparent"}, "background"),
        ({"prompt": "x", "steps": 500}, "steps"),
        ({"prompt": "x", "tone": "warm"}, "tone"),
        ({"prompt": "x", "style_preset": "nope"}, "style_preset"),
        ({"size": "256x256"}, "prompt"),
    ],
)
def test_bad_input_is_a_400_in_openais_shape_naming_the_clients_field(bearer, body, param):
    error = openai_error(bearer.post("/v1/images/generations", body, format="json"), 400)
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert param in error["fields"]
    assert not GenerationJob.objects.exists()


def test_credentials_are_checked_in_openais_shape_and_bearer_works_on_the_whole_api(bearer, user):
    anonymous = openai_error(APIClient().get("/v1/models"), 401)
    assert anonymous["code"] == "invalid_api_key"
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert openai_error(wrong.get("/v1/models"), 401)["code"] == "invalid_api_key"
    # Bearer is accepted by the platform's own API too, which keeps its own error body.
    assert bearer.get("/api/v1/jobs/").status_code == 200
    platform_error = wrong.get("/api/v1/jobs/").json()["error"]
    assert platform_error["code"] == "not_authenticated" and "type" not in platform_error


def test_a_request_whose_jobs_outlast_the_wait_is_a_504_and_its_jobs_go_on(bearer, user, settings):
    settings.ILLU_COMPAT_WAIT_SECONDS = 0
    response = bearer.post(
        "/v1/images/generations",
        {"prompt": "ten of them", "n": 10, "size": "256x256", "user": "reader-7", "seed": 5},
        format="json",
    )
    error = openai_error(response, 504)
    assert error["code"] == "timeout" and response["x-should-retry"] == "false"
    jobs = list(GenerationJob.objects.filter(owner=user).order_by("params__seed"))
    # Ten images are more than one job makes: two jobs, consecutive seeds, all queued.
    assert [job.params["num_images"] for job in jobs] == [8, 2]
    assert jobs[0].params["seeds"] + jobs[1].params["seeds"] == list(range(5, 15))
    assert {(job.source, job.source_user, job.status, job.kind) for job in jobs} == {
        ("openai", "reader-7", "queued", "text")
    }
    assert all(str(job.id) in error["message"] for job in jobs)
    listed = bearer.get("/api/v1/jobs/?source=openai").json()
    assert listed["count"] == 2 and bearer.get("/api/v1/jobs/?source=a1111").json()["count"] == 0
    # Ordinary jobs: the platform's own API cancels them.
    cancelled = bearer.post(f"/api/v1/jobs/{jobs[0].id}/cancel/").json()
    assert cancelled["status"] == "cancelled" and cancelled["source"] == "openai"


def test_a_model_that_is_a_style_preset_sets_the_jobs_style(bearer, user, settings):
    settings.ILLU_COMPAT_WAIT_SECONDS = 0
    models = bearer.get("/v1/models").json()
    assert models["object"] == "list" and models["data"][0]["id"] == "sdxl-base"
    assert {"object", "created", "owned_by"} <= set(models["data"][1])
    bearer.post("/v1/images/generations", {"prompt": "x", "model": "watercolor"}, format="json")
    bearer.post("/v1/images/generations", {"prompt": "y", "quality": "low"}, format="json")
    styled, plain = GenerationJob.objects.order_by("created_at")
    assert styled.params["style"] == "watercolor"
    assert plain.params["style"] is None and plain.params["quality"] == "draft"


def test_an_edit_mask_of_another_size_or_without_transparency_is_refused_storing_nothing(
    bearer,
):
    image = Image.new("RGB", (64, 64), "white")
    wrong_size = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    opaque = Image.new("RGB", (64, 64), "black")
    for mask, words in ((wrong_size, "image's size"), (opaque, "alpha channel")):
        response = bearer.post(
            "/v1/images/edits",
            {"image": png_file(image), "mask": png_file(mask, "mask.png"), "prompt": "x"},
            format="multipart",
        )
        error = openai_error(response, 400)
        assert error["param"] == "mask" and words in error["message"]
    assert not GenerationJob.objects.exists() and not Upload.objects.exists()


def test_an_edit_of_two_images_is_refused(bearer):
    image = Image.new("RGB", (64, 64), "white")
    response = bearer.post(
        "/v1/images/edits",
        {"image[]": [png_file(image), png_file(image)], "prompt": "x"},
        format="multipart",
    )
    assert openai_error(response, 400)["param"] in ("image", "image[]")


def test_the_job_creation_throttle_applies_with_retry_after(bearer, settings):
    from django.core.cache import cache

    cache.clear()  # counters of earlier tests in this process
    settings.ILLU_COMPAT_WAIT_SECONDS = 0
    settings.ILLU_THROTTLE_JOB_CREATE = "1/min"
    bearer.post("/v1/images/generations", {"prompt": "one"}, format="json")
    response = bearer.post("/v1/images/generations", {"prompt": "two"}, format="json")
    error = openai_error(response, 429)
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    assert int(response["Retry-After"]) > 0 and "x-should-retry" not in response
    assert GenerationJob.objects.count() == 1


def test_jobs_of_each_api_are_told_apart_in_the_job_api_the_gallery_and_the_admin(
    user, make_user, client
):
    from tests.fixtures.api import make_generated_image

    made = make_generated_image(user)
    GenerationJob.objects.filter(pk=made.job_id).update(source="openai", source_user="reader")
    native = make_generated_image(user)  # through the platform's own API
    api = client_for(user)
    [job] = api.get("/api/v1/jobs/?source=openai").json()["results"]
    assert (job["id"], job["source"], job["source_user"]) == (str(made.job_id), "openai", "reader")
    assert api.get("/api/v1/jobs/?source=api").json()["count"] == 1
    assert api.get("/api/v1/jobs/?source=nope").status_code == 400
    client.force_login(user)
    gallery = client.get("/gallery/?source=openai").content.decode()
    assert str(made.id) in gallery and str(native.id) not in gallery
    assert str(made.id) not in client.get("/gallery/?source=a1111").content.decode()
    client.force_login(make_user("ops", staff=True))
    admin = client.get("/admin/generation/generationjob/?source__exact=openai").content.decode()
    assert str(made.job_id) in admin and "OpenAI Images API" in admin


@pytest.mark.parametrize(
    "body, param",
    [
        (b'{"prompt": "a fox \\ud800"}', "prompt"),
        (b'{"prompt": "a fox", "\\udfff": 1}', "\\udfff"),
    ],
)
def test_a_lone_surrogate_is_a_400_in_openai_s_shape_naming_the_place(bearer, body, param):
    response = bearer.generic(
        "POST", "/v1/images/generations", body, content_type="application/json"
    )
    error = openai_error(response, 400)
    # Named as the parser names it (a key's surrogate written as its escape); valid UTF-8.
    assert error["param"] == param and error["code"] == "invalid"
    response.content.decode("utf-8")
    assert not GenerationJob.objects.exists()


def test_a_request_over_the_users_wait_cap_is_429_in_openai_s_shape_and_makes_nothing(
    bearer, user, settings
):
    """A compatibility request is a long wait like ``Prefer: wait``: it counts against the
    caller's cap, and one over it is refused before any job exists."""
    settings.ILLU_MAX_WAITS_PER_USER = 0
    response = bearer.post("/v1/images/generations", {"prompt": "a fox"}, format="json")
    error = openai_error(response, 429)
    assert error["code"] == "rate_limit_exceeded" and int(response["Retry-After"]) > 0
    assert not GenerationJob.objects.filter(owner=user).exists()


def test_a_registered_model_is_listed_and_runs_the_jobs_on_it(bearer, user, settings):
    from catalog.models import BaseModel

    settings.ILLU_COMPAT_WAIT_SECONDS = 0
    BaseModel.objects.create(slug="demo-tiny-b", name="B", source="demo:tiny-sdxl-b")
    BaseModel.objects.create(slug="off", name="Off", source="demo:tiny-sdxl", enabled=False)
    ids = [model["id"] for model in bearer.get("/v1/models").json()["data"]]
    assert ids[:2] == ["sdxl-base", "demo-tiny-b"] and "off" not in ids
    bearer.post("/v1/images/generations", {"prompt": "x", "model": "demo-tiny-b"}, format="json")
    assert GenerationJob.objects.get().params["model"] == "demo-tiny-b"
    openai_error(
        bearer.post("/v1/images/generations", {"prompt": "x", "model": "off"}, format="json"), 404
    )
