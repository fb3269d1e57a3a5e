"""Readiness, the staff health view and the warm-up trigger."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rq.job import Job
from rq.serializers import JSONSerializer

from work.redis_queue import get_queue, get_redis

pytestmark = pytest.mark.django_db


def test_liveness_is_unchanged():
    response = APIClient().get("/health/")
    assert response.status_code == 200 and response.json()["status"] == "healthy"


def test_ready_when_every_dependency_answers(live_worker):
    response = APIClient().get("/health/ready/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ready"
    assert {name for name, check in body["checks"].items() if check["ok"]} == {
        "database", "redis", "storage", "workers",
    }  # fmt: skip
    assert body["checks"]["workers"]["count"] == 1


def test_not_ready_without_a_live_worker(no_workers):
    response = APIClient().get("/health/ready/")
    assert response.status_code == 503
    body = response.json()
    assert body["error"]["code"] == "unavailable" and "workers" in body["error"]["message"]
    assert body["checks"]["workers"]["ok"] is False
    assert body["checks"]["database"]["ok"] and body["checks"]["storage"]["ok"]


def test_not_ready_when_storage_fails(live_worker, settings, tmp_path):
    import copy

    if settings.STORAGE_BACKEND == "s3":
        storages = copy.deepcopy(settings.STORAGES)
        storages["default"]["OPTIONS"]["secret_key"] = "wrong-secret"  # the server checks it
        settings.STORAGES = storages
    else:
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("x")
        settings.MEDIA_ROOT = blocker
    response = APIClient().get("/health/ready/")
    assert response.status_code == 503
    body = response.json()
    assert "storage" in body["error"]["message"]
    assert not body["checks"]["storage"]["ok"] and body["checks"]["storage"]["error"]
    assert body["checks"]["database"]["ok"] and body["checks"]["workers"]["ok"]


def test_not_ready_when_redis_is_down(live_worker, settings):
    from illuplatform.embedded import free_port

    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = APIClient().get("/health/ready/")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert not checks["redis"]["ok"] and not checks["workers"]["ok"]
    assert checks["database"]["ok"]


def test_detailed_shows_workers_queues_and_versions(staff_api, live_worker, empty_queues):
    get_queue("gpu-low").enqueue("gpu_worker.tasks.run_generation_job", "x")
    response = staff_api.get("/health/detailed/")
    assert response.status_code == 200, response.json()
    body = response.json()
    [worker] = body["workers"]
    assert worker["device"] == "cuda:0" and worker["memory_used"] == 9 * 2**30
    assert worker["models"] == live_worker["models"] and worker["current_job"] is None
    assert body["queues"] == {"gpu-high": 0, "gpu": 0, "gpu-low": 1, "training": 0}
    assert body["versions"]["django"] and body["versions"]["python"]
    assert body["status"] == "ready"


def test_detailed_and_warmup_need_credentials():
    assert APIClient().get("/health/detailed/").status_code == 401
    assert APIClient().post("/health/warmup/").status_code == 401


def test_warmup_queues_json_jobs_on_the_high_queue(staff_api, empty_queues):
    response = staff_api.post("/health/warmup/", {"count": 2}, format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["queue"] == "gpu-high" and len(body["jobs"]) == 2
    assert get_queue("gpu-high").job_ids == body["jobs"] and get_queue("gpu").count == 0
    job = Job.fetch(body["jobs"][0], connection=get_redis(), serializer=JSONSerializer)
    assert job.func_name == "gpu_worker.warmup.run_warmup_job"


def test_warmup_without_a_body_queues_one(staff_api, empty_queues):
    assert staff_api.post("/health/warmup/").status_code == 202
    assert get_queue("gpu-high").count == 1


def test_warmup_count_out_of_range_is_400(staff_api, empty_queues):
    response = staff_api.post("/health/warmup/", {"count": 100}, format="json")
    assert response.status_code == 400 and "count" in response.json()["error"]["fields"]
    assert get_queue("gpu-high").count == 0
