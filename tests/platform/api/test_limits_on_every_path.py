"""The same limits on every path: the job-creation and upload throttles count page forms and
API routes on the same counters (a page over the limit says so with 429); priority high is for
staff and for accounts whose quota allows it; a job's cost (megapixel-steps) is bounded per job
(400 naming the fields, with the limit) and across a user's unfinished jobs (429)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import Avatar, Quota
from characters.models import ReferenceImage
from characters.services import character_create
from generation.models import GenerationJob
from tests.fixtures.api import image_file
from tests.fixtures.pages import make_image
from training.models import TrainingRun

pytestmark = pytest.mark.django_db

SMALL_JOB = {"kind": "text", "prompt": "a lighthouse", "width": 256, "height": 256}


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()  # throttle counters of earlier tests in this process
    yield
    cache.clear()


@pytest.fixture
def page(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def assert_throttled_page(response, what: str):
    assert response.status_code == 429, response.content[:300]
    assert 1 <= int(response["Retry-After"]) <= 60
    assert f"Too many {what}" in response.content.decode()


def job_pages(alice):
    image = make_image(alice)
    character = character_create(owner=alice, name="Mira")
    return {
        "create": ("/create/", {"kind": "text", "prompt": "a lighthouse", "width": "256"}),
        "again": (f"/images/{image.id}/again/", {"seed": "new"}),
        "edit": (f"/images/{image.id}/edit/", {"action": "repair", "strength": "0.5"}),
        "train": (f"/characters/{character.id}/train/", {"trigger_word": "mira_person"}),
    }


@pytest.mark.parametrize("name", ["create", "again", "edit", "train"])
def test_job_pages_count_against_the_apis_job_throttle(
    api, page, alice, settings, name, empty_queues
):
    url, form = job_pages(alice)[name]
    settings.ILLU_THROTTLE_JOB_CREATE = "1/min"
    assert api.post("/api/v1/jobs/", SMALL_JOB, format="json").status_code == 201
    jobs, runs = GenerationJob.objects.count(), TrainingRun.objects.count()
    assert_throttled_page(page.post(url, form), "new jobs")
    assert (GenerationJob.objects.count(), TrainingRun.objects.count()) == (jobs, runs)
    # ...and the other way round: the API's training route counts too.
    body = {"character": str(alice.characters.get().id), "trigger_word": "mira_person"}
    refused = api.post("/api/v1/trainings/", body, format="json")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "throttled"


def test_generate_again_stops_at_the_limit(page, alice, settings, empty_queues):
    # Was: 70 jobs in 5 s through /images/<id>/again/ while the API allowed 60 a minute.
    settings.ILLU_THROTTLE_JOB_CREATE = "3/min"
    image = make_image(alice)
    answers = [page.post(f"/images/{image.id}/again/").status_code for _ in range(5)]
    assert answers == [302, 302, 302, 429, 429]
    assert GenerationJob.objects.filter(owner=alice).count() == 1 + 3


@pytest.mark.parametrize("where", ["avatars", "references"])
def test_upload_pages_count_against_the_apis_upload_throttle(api, page, alice, settings, where):
    character = character_create(owner=alice, name="Mira")
    url = "/avatars/" if where == "avatars" else f"/characters/{character.id}/"
    settings.ILLU_THROTTLE_UPLOADS = "1/min"
    assert (
        api.post("/api/v1/uploads/", {"image": image_file()}, format="multipart").status_code == 201
    )
    form = {"image": image_file(), "allow_no_face": "on"}
    assert_throttled_page(page.post(url, form), "uploads")
    assert not Avatar.objects.exists() and not ReferenceImage.objects.exists()


def test_priority_high_is_for_staff_and_accounts_allowed_it(api, alice, staff_api, empty_queues):
    high = {**SMALL_JOB, "priority": "high"}
    refused = api.post("/api/v1/jobs/", high, format="json")
    assert refused.status_code == 403, refused.content
    assert refused.json()["error"]["code"] == "forbidden"
    assert "priority" in refused.json()["error"]["fields"]
    assert not GenerationJob.objects.exists()
    assert staff_api.post("/api/v1/jobs/", high, format="json").json()["priority"] == "high"
    Quota.objects.create(user=alice, allow_high_priority=True)
    job = api.post("/api/v1/jobs/", high, format="json").json()
    assert job["priority"] == "high"
    # Allowance withdrawn: a retry of the high job runs at normal priority.
    Quota.objects.filter(user=alice).update(allow_high_priority=False)
    assert api.post(f"/api/v1/jobs/{job['id']}/retry/").json()["priority"] == "normal"


def test_a_job_over_the_cost_budget_is_a_400_naming_its_size_and_the_limit(
    api, alice, empty_queues
):
    # Was: 2048x2048, 150 steps, 8 images accepted (about 100 minutes on a CPU worker).
    largest = {**SMALL_JOB, "width": 2048, "height": 2048, "steps": 150, "num_images": 8}
    response = api.post("/api/v1/jobs/", largest, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert {"width", "height", "steps", "num_images"} <= set(error["fields"])
    assert "5,033 megapixel-steps" in error["message"] and "limit is 1,000" in error["message"]
    assert not GenerationJob.objects.exists()
    Quota.objects.create(user=alice, max_job_cost=6000, max_queued_cost=6000)
    assert api.post("/api/v1/jobs/", largest, format="json").status_code == 201


def test_unfinished_jobs_together_stay_within_the_queued_budget(api, alice, settings, empty_queues):
    settings.ILLU_MAX_QUEUED_COST = 100
    job = {**SMALL_JOB, "width": 1024, "height": 1024, "steps": 30, "num_images": 2}  # 62.9
    assert api.post("/api/v1/jobs/", job, format="json").status_code == 201
    response = api.post("/api/v1/jobs/", job, format="json")
    assert response.status_code == 429 and response.json()["error"]["code"] == "quota_exceeded"
    assert "at most 100" in response.json()["error"]["message"] and response["Retry-After"]
    GenerationJob.objects.update(status="succeeded")  # finished work no longer counts
    assert api.post("/api/v1/jobs/", job, format="json").status_code == 201
