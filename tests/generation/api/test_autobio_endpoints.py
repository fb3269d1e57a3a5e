"""The replaced AutoBio service's curl examples, verbatim, with a staff token acting for a
user."""

import pytest

from accounts.services import avatar_create
from generation.models import GenerationJob
from tests import photos
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

MEMORY = {
    "user_id": "test_user_123",
    "prompt": "A beautiful sunset over mountains",
    "num_inference_steps": 50,
    "ip_adapter_scale": 0.33,
}
SUBJECT = {"user_id": "test_user_123", "num_inference_steps": 50, "ip_adapter_scale": 0.33}


@pytest.fixture
def customer(make_user):
    person = make_user("test_user_123")
    avatar_create(owner=person, upload=photos.upload_of(photos.astronaut()))
    return person


@pytest.fixture
def service(make_user):
    return client_for(make_user("illustration-service", staff=True))


def test_memory_example_creates_a_memory_job_for_the_user(service, customer, empty_queues):
    response = service.post("/v1/images/memory", MEMORY, format="json")
    assert response.status_code == 201, response.json()
    job = GenerationJob.objects.get(pk=response.json()["id"])
    assert job.owner == customer and job.kind == "memory"
    params = response.json()["params"]
    assert params["steps"] == 50 and params["ip_adapter_scale"] == 0.33
    assert params["prompt"] == MEMORY["prompt"] and params["style"] == "memory"
    assert params["avatar"] == str(customer.avatars.get(primary=True).id)
    assert params["negative_prompt"] == "error, glitch, mistake"


def test_subject_example_needs_no_prompt(service, customer, empty_queues):
    response = service.post("/v1/images/subject", SUBJECT, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "subject" and body["params"]["style"] == "subject"


def test_style_prompt_replaces_the_presets_style(service, customer, empty_queues):
    body = {**MEMORY, "style_prompt": "watercolor, soft light"}
    params = service.post("/v1/images/memory", body, format="json").json()["params"]
    assert params["style_template"] == "{prompt}, watercolor, soft light"


def test_a_non_staff_token_may_not_act_for_another_user(customer, make_user, empty_queues):
    response = client_for(make_user("eve")).post("/v1/images/memory", MEMORY, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert not GenerationJob.objects.exists()


def test_unknown_parameters_and_users_are_named(service, customer):
    bad = service.post("/v1/images/memory", {**MEMORY, "guidance": 3}, format="json")
    assert bad.status_code == 400 and "guidance" in bad.json()["error"]["fields"]
    nobody = service.post("/v1/images/memory", {**MEMORY, "user_id": "ghost"}, format="json")
    assert nobody.status_code == 404 and "user_id" in nobody.json()["error"]["fields"]
