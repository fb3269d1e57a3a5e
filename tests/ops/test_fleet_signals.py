"""The fleet as operators see it, from the workers' heartbeats and the queued rows:
/health/detailed/, the admin's fleet page and the autoscaling signals on /metrics."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from generation.models import GenerationJob
from gpu_worker.heartbeat import worker_state, write_heartbeat
from tests.fixtures.ops import parse_metrics
from work.redis_queue import get_redis

pytestmark = pytest.mark.django_db

TOKEN = "metrics-secret-fleet"


def beat(name: str, resident: list[str], current_job: str | None, switches: int) -> None:
    state = worker_state(
        name=name,
        device="cuda:0",
        models=[f"/models/{slug}" for slug in resident],
        current_job=current_job,
        residency={"budget_bytes": 120 * 10**9, "room": 3, "switches": switches, "host": []},
        resident_models=resident,
    )
    write_heartbeat(get_redis(), state, ttl=30)


@pytest.fixture
def two_workers(clean_heartbeats):
    beat("gpu-a", ["ink", "photo"], "job-1", switches=4)
    beat("gpu-b", ["watercolor"], None, switches=1)


def test_health_detailed_lists_each_workers_device_budget_and_resident_models(
    staff_api, two_workers
):
    workers = {w["name"]: w for w in staff_api.get("/health/detailed/").json()["workers"]}
    assert workers["gpu-a"]["resident_models"] == ["ink", "photo"]
    assert workers["gpu-a"]["memory_budget"] == 120 * 10**9
    assert workers["gpu-a"]["current_job"] == "job-1"
    assert workers["gpu-b"]["device"] == "cuda:0" and workers["gpu-b"]["model_switches"] == 1


def test_the_admin_fleet_page_shows_the_workers_for_staff_only(staff_client, two_workers):
    from django.test import Client

    page = staff_client.get("/admin/fleet/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "gpu-a" in text and "ink, photo" in text and "watercolor" in text and "job-1" in text
    assert Client().get("/admin/fleet/").status_code == 302  # to the admin's sign-in


def test_metrics_carry_per_model_queue_depth_age_busy_share_and_switches(
    settings, user, two_workers
):
    settings.ILLU_METRICS_TOKEN = TOKEN
    base = {"prompt": "p", "seeds": [1], "width": 64, "height": 64, "steps": 1}
    old = GenerationJob.objects.create(owner=user, kind="text", params={**base, "model": "ink"})
    GenerationJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    GenerationJob.objects.create(owner=user, kind="text", params={**base, "model": "ink"})
    GenerationJob.objects.create(owner=user, kind="text", params={**base, "model": "photo"})
    response = APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    metrics = parse_metrics(response.content.decode())

    def value(name, **labels):
        return metrics[(name, frozenset(labels.items()))]

    assert value("illu_model_queue_depth", model="ink") == 2
    assert value("illu_model_queue_depth", model="photo") == 1
    assert 299 < value("illu_model_oldest_queued_seconds", model="ink") < 400
    assert value("illu_workers_busy_share") == 0.5
    assert value("illu_worker_model_switches", worker="gpu-a") == 4
    assert value("illu_worker_model_resident", worker="gpu-b", model="watercolor") == 1
