import json
import zlib

import pytest
from rq.job import Job
from rq.serializers import JSONSerializer

from generation.models import GenerationJob
from tests.conftest import client_for
from work.redis_queue import get_queue, get_redis

VALID = {"kind": "text", "prompt": "a lighthouse at dusk", "width": 512, "height": 384}


def test_create_saves_the_row_and_enqueues_its_id_only(
    api, user, empty_queues, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/jobs/", {**VALID, "seed": 7, "num_images": 2}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    job = GenerationJob.objects.get(pk=body["id"])
    assert job.owner == user and job.status == "queued"
    assert body["params"]["seeds"] == [7, 8]
    assert body["params"]["width"] == 512 and body["params"]["height"] == 384

    queue = get_queue("gpu")
    assert queue.job_ids == [str(job.id)]
    rq_job = Job.fetch(str(job.id), connection=get_redis(), serializer=JSONSerializer)
    assert list(rq_job.args) == [str(job.id)] and not rq_job.kwargs
    # The payload in Redis is JSON, never pickle.
    raw = get_redis().hget(f"rq:job:{job.id}", "data")
    func, _, args, kwargs = json.loads(zlib.decompress(raw))
    assert func == "gpu_worker.tasks.run_generation_job" and args == [str(job.id)]


def test_defaults_are_resolved_and_returned(api, empty_queues):
    body = api.post("/api/v1/jobs/", {"kind": "text", "prompt": "x"}, format="json").json()
    params = body["params"]
    assert (params["width"], params["height"]) == (1024, 1024)
    assert params["steps"] == 30 and params["num_images"] == 1
    assert len(params["seeds"]) == 1 and params["seed"] is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "text"}, "prompt"),
        ({**VALID, "steps": 0}, "steps"),
        ({**VALID, "steps": 151}, "steps"),
        ({**VALID, "width": 500}, "width"),
        ({**VALID, "height": 2056}, "height"),
        ({**VALID, "width": 248}, "width"),
        ({**VALID, "kind": "painting"}, "kind"),
        ({**VALID, "colour": "red"}, "colour"),
        ({**VALID, "num_images": 9}, "num_images"),
        ({**VALID, "prompt": "x" * 2001}, "prompt"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_stores_nothing(api, payload, field, empty_queues):
    response = api.post("/api/v1/jobs/", payload, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert field in error["message"]
    assert GenerationJob.objects.count() == 0
    assert get_queue("gpu").count == 0


def test_all_bad_fields_are_reported_together(api):
    response = api.post(
        "/api/v1/jobs/", {"kind": "text", "width": 500, "steps": 400, "foo": 1}, format="json"
    )
    assert set(response.json()["error"]["fields"]) >= {"width", "steps", "foo"}


def test_memory_job_without_an_avatar_names_the_avatar(api):
    response = api.post("/api/v1/jobs/", {**VALID, "kind": "memory"}, format="json")
    assert response.status_code == 400
    assert "primary avatar" in response.json()["error"]["fields"]["avatar"][0]
    assert GenerationJob.objects.count() == 0


def test_another_users_job_is_404(api, make_user, empty_queues):
    job_id = api.post("/api/v1/jobs/", VALID, format="json").json()["id"]
    intruder = client_for(make_user("bob"))
    response = intruder.get(f"/api/v1/jobs/{job_id}/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert intruder.get("/api/v1/jobs/").json()["count"] == 0
    assert api.get("/api/v1/jobs/").json()["count"] == 1
