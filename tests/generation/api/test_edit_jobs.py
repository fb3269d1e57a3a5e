"""Editing kinds through POST /api/v1/jobs/: sources and masks are the caller's own (another
user's is a 404), sizes are checked, every refusal names its field and stores nothing."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from PIL import Image

from generation.models import GeneratedImage, GenerationJob, Upload
from generation.services import job_create, job_rerun
from generation.uploads import upload_create
from tests import photos
from tests.conftest import client_for
from work.redis_queue import get_queue


def upload(owner, size=(256, 256), color=(90, 120, 200)):
    return upload_create(owner=owner, upload=photos.upload_of(Image.new("RGB", size, color)))


def generated_image(owner, size=(256, 192)) -> GeneratedImage:
    job, _ = job_create(owner=owner, kind="text", params={"prompt": "a source"})
    image = GeneratedImage(job=job, width=size[0], height=size[1], seed=1)
    buffer = photos.upload_of(Image.new("RGB", size, (10, 200, 10))).read()
    image.file.save("image.png", ContentFile(buffer), save=True)
    return image


def post(api, **body):
    return api.post("/api/v1/jobs/", body, format="json")


def assert_refused(response, status: int, field: str) -> None:
    assert response.status_code == status, response.json()
    assert field in response.json()["error"]["fields"], response.json()


@pytest.fixture
def bob(make_user):
    return make_user("bob")


def test_each_edit_kind_resolves_its_output_size(api, user, empty_queues):
    source = upload(user, (320, 256))
    image = generated_image(user, (256, 192))
    mask = upload(user, (320, 256), (255, 255, 255))
    created = {
        "img2img": post(api, kind="img2img", prompt="at night", source_upload=str(source.id)),
        "inpaint": post(
            api, kind="inpaint", prompt="a hat", source_upload=str(source.id),
            mask_upload=str(mask.id), mask_blur=4,
        ),
        "upscale": post(api, kind="upscale", source_image=str(image.id), scale=4),
        "face_repair": post(api, kind="face_repair", source_upload=str(source.id)),
    }  # fmt: skip
    for kind, response in created.items():
        assert response.status_code == 201, (kind, response.json())
    params = {kind: response.json()["params"] for kind, response in created.items()}
    assert (params["img2img"]["width"], params["img2img"]["height"]) == (320, 256)
    assert params["img2img"]["strength"] == 0.6
    assert params["inpaint"]["mask_upload"] == str(mask.id) and params["inpaint"]["mask_blur"] == 4
    assert (params["upscale"]["width"], params["upscale"]["height"]) == (1024, 768)
    assert params["upscale"]["source_image"] == str(image.id)
    assert params["face_repair"]["strength"] == 0.5
    kinds = set(GenerationJob.objects.values_list("kind", flat=True))
    assert kinds == {"text", "img2img", "inpaint", "upscale", "face_repair"}


def test_a_retried_edit_job_starts_from_the_same_source(api, user, empty_queues):
    source = upload(user)
    body = post(api, kind="upscale", source_upload=str(source.id), scale=2).json()
    again = job_rerun(job=GenerationJob.objects.get(pk=body["id"]))
    assert again.params["source_upload"] == str(source.id) and again.params["width"] == 512


def test_another_users_source_or_mask_is_not_found(api, user, bob, empty_queues):
    theirs = upload(bob)
    their_image = generated_image(bob)
    mine = upload(user)
    before = GenerationJob.objects.count()
    assert_refused(
        post(api, kind="img2img", prompt="x", source_upload=str(theirs.id)), 404, "source_upload"
    )
    assert_refused(post(api, kind="upscale", source_image=str(their_image.id)), 404, "source_image")
    response = post(
        api, kind="inpaint", prompt="x", source_upload=str(mine.id), mask_upload=str(theirs.id)
    )
    assert_refused(response, 404, "mask_upload")
    assert response.json()["error"]["code"] == "not_found"
    assert GenerationJob.objects.count() == before


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"mask_rect": [200, 200, 100, 10]}, "mask_rect"),  # past the right edge
        ({"mask_rect": [-1, 0, 10, 10]}, "mask_rect"),
        ({"mask_rect": [0, 0, 0, 10]}, "mask_rect"),
        ({"mask_rect": [0, 0, 10]}, "mask_rect"),
        ({}, "mask_upload"),  # no mask at all
        ({"mask_rect": [0, 0, 8, 8], "strength": 1.5}, "strength"),
        ({"mask_rect": [0, 0, 8, 8], "width": 512}, "width"),
        ({"mask_rect": [0, 0, 8, 8], "scale": 2}, "scale"),
        ({"mask_polygon": [[0, 0], [300, 0], [0, 10]]}, "mask_polygon"),  # outside
        ({"mask_polygon": [[0, 0], [10, 0]]}, "mask_polygon"),  # two points
        ({"mask_rect": [0, 0, 8, 8], "mask_polygon": [[0, 0], [9, 0], [0, 9]]}, "mask_polygon"),
    ],
)
def test_bad_inpaint_input_is_400_naming_the_field(api, user, extra, field, empty_queues):
    source = upload(user)
    before = (GenerationJob.objects.count(), Upload.objects.count())
    response = post(api, kind="inpaint", prompt="x", source_upload=str(source.id), **extra)
    assert_refused(response, 400, field)
    assert response.json()["error"]["code"] == "invalid"
    assert (GenerationJob.objects.count(), Upload.objects.count()) == before
    assert get_queue("gpu").count == 0


def test_a_polygon_mask_is_resolved(api, user, empty_queues):
    source = upload(user)
    points = [[10, 10], [200, 20], [50.5, 240]]
    response = post(
        api, kind="inpaint", prompt="x", source_upload=str(source.id), mask_polygon=points
    )
    assert response.status_code == 201, response.json()
    assert response.json()["params"]["mask_polygon"] == points


def test_a_mask_of_another_size_is_400(api, user, empty_queues):
    source = upload(user, (256, 256))
    mask = upload(user, (128, 128))
    response = post(
        api, kind="inpaint", prompt="x", source_upload=str(source.id), mask_upload=str(mask.id)
    )
    assert_refused(response, 400, "mask_upload")
    assert "256x256" in response.json()["error"]["message"]
    assert GenerationJob.objects.count() == 0


def test_sizes_past_the_limits_are_400(api, user, settings, empty_queues):
    settings.ILLU_UPSCALE_MAX_SIDE = 1024
    source = upload(user, (512, 384))
    assert_refused(post(api, kind="upscale", source_upload=str(source.id), scale=4), 400, "scale")
    assert_refused(post(api, kind="upscale", source_upload=str(source.id), scale=3), 400, "scale")
    settings.ILLU_EDIT_MAX_SIDE = 500
    response = post(api, kind="img2img", prompt="x", source_upload=str(source.id))
    assert_refused(response, 400, "source_upload")
    assert GenerationJob.objects.count() == 0


def test_edit_kinds_need_one_source(api, user, empty_queues):
    source = upload(user)
    assert_refused(post(api, kind="upscale"), 400, "source_image")
    image = generated_image(user)
    both = post(api, kind="upscale", source_upload=str(source.id), source_image=str(image.id))
    assert_refused(both, 400, "source_upload")
    # Editing fields on a kind that does not edit are refused, not ignored.
    assert_refused(post(api, kind="text", prompt="x", strength=0.5), 400, "strength")


def test_staff_acting_for_a_user_uses_that_users_sources(user, make_user, empty_queues):
    staff = client_for(make_user("service", staff=True))
    source = upload(user)
    response = staff.post(
        "/api/v1/jobs/",
        {"kind": "upscale", "source_upload": str(source.id), "user_id": "alice"},
        format="json",
    )
    assert response.status_code == 201, response.json()
