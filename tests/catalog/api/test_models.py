"""GET /api/v1/models/: the enabled base models, without their sources, with the live workers
holding each (from the workers' heartbeats)."""

from __future__ import annotations

import time

import pytest

from catalog.models import BaseModel
from gpu_worker.heartbeat import write_heartbeat
from work.redis_queue import get_redis

pytestmark = pytest.mark.django_db


@pytest.fixture
def models():
    BaseModel.objects.create(
        slug="watercolor", name="Watercolor", source="s3://secret-bucket/watercolor",
        default_scheduler="dpmpp_2m",
    )  # fmt: skip
    BaseModel.objects.create(slug="anime", name="Anime", source="org/anime")
    BaseModel.objects.create(slug="retired", name="Retired", source="org/old", enabled=False)


def heartbeat(name: str, resident: list[str] | None) -> None:
    state = {"name": name, "device": "cpu", "time": time.time(), "models": [], "pid": 1}
    if resident is not None:
        state["resident_models"] = resident
    write_heartbeat(get_redis(), state, ttl=3600)


def test_lists_enabled_models_with_their_residency_and_no_source(api, models, no_workers):
    heartbeat("gpu-a", ["watercolor", "anime"])
    heartbeat("gpu-b", ["watercolor"])
    heartbeat("gpu-old", None)  # a worker that does not report residency holds none
    response = api.get("/api/v1/models/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert results == [
        {"slug": "anime", "name": "Anime", "family": "sdxl", "default_scheduler": "euler",
         "resident_on": ["gpu-a"]},
        {"slug": "watercolor", "name": "Watercolor", "family": "sdxl",
         "default_scheduler": "dpmpp_2m", "resident_on": ["gpu-a", "gpu-b"]},
    ]  # fmt: skip
    assert "secret-bucket" not in response.content.decode()


def test_no_live_worker_means_resident_nowhere(api, models, no_workers):
    results = api.get("/api/v1/models/").json()["results"]
    assert [model["resident_on"] for model in results] == [[], []]


def test_anonymous_callers_are_refused(client, models):
    assert client.get("/api/v1/models/").status_code in (401, 403)
