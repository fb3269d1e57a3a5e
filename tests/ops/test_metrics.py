"""/metrics: Prometheus text for the metrics token or staff, built from the sources of truth."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from generation.models import GeneratedImage, GenerationJob
from gpu_worker.heartbeat import write_heartbeat
from ops import selectors
from tests.conftest import client_for
from tests.fixtures.ops import parse_metrics

pytestmark = pytest.mark.django_db

TOKEN = "metrics-secret-1"


@pytest.fixture
def metrics_token(settings):
    settings.ILLU_METRICS_TOKEN = TOKEN


def scrape(client=None, token=TOKEN) -> dict:
    client = client or APIClient()
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return parse_metrics(response.content.decode())


def value(metrics: dict, name: str, **labels) -> float:
    return metrics[(name, frozenset(labels.items()))]


def test_without_credentials_it_is_401_with_the_api_error_body(metrics_token):
    response = APIClient().get("/metrics")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response.json()["error"]["message"]
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("configured", [TOKEN, ""])
def test_a_wrong_or_unconfigured_bearer_token_is_401(settings, configured):
    settings.ILLU_METRICS_TOKEN = configured
    for token in ("wrong", ""):
        response = APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"


def test_a_non_staff_api_token_is_403_and_a_staff_one_is_accepted(make_user, metrics_token):
    response = client_for(make_user()).get("/metrics")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    staff = client_for(make_user(staff=True))
    assert staff.get("/metrics").status_code == 200
    assert APIClient().get("/metrics", HTTP_AUTHORIZATION="Token nope").status_code == 401


def test_metrics_reflect_a_created_job_and_queue_depth(
    api, metrics_token, empty_queues, django_capture_on_commit_callbacks
):
    before = scrape()
    assert value(before, "illu_jobs", kind="text", status="queued") == 0
    assert value(before, "illu_queue_depth", queue="gpu") == 0
    with django_capture_on_commit_callbacks(execute=True):
        body = {"kind": "text", "prompt": "a fox", "width": 256, "height": 256}
        assert api.post("/api/v1/jobs/", body, format="json").status_code == 201
    after = scrape()
    assert value(after, "illu_jobs", kind="text", status="queued") == 1
    assert value(after, "illu_queue_depth", queue="gpu") == 1
    assert value(after, "illu_queue_depth", queue="gpu-high") == 0
    assert value(after, "illu_metrics_source_up", source="database") == 1
    assert value(after, "illu_metrics_source_up", source="redis") == 1


def test_duration_histograms_come_from_recent_finished_jobs(user, metrics_token, settings):
    now = timezone.now()
    timings = {"queue_ms": 400, "load_ms": 10, "inference_ms": 1500, "total_ms": 2500}
    recent = GenerationJob.objects.create(
        owner=user, kind="text", status="succeeded", finished_at=now, timings=timings
    )
    GenerationJob.objects.create(  # outside the window: not counted
        owner=user,
        kind="text",
        status="succeeded",
        finished_at=now - timedelta(hours=settings.ILLU_METRICS_WINDOW_HOURS + 1),
        timings=timings,
    )
    GeneratedImage.objects.create(job=recent, file="x.png", width=8, height=8, seed=1)
    metrics = scrape()
    assert value(metrics, "illu_job_inference_seconds_gcount", kind="text") == 1
    assert value(metrics, "illu_job_inference_seconds_gsum", kind="text") == 1.5
    assert value(metrics, "illu_job_inference_seconds_bucket", kind="text", le="1.0") == 0
    assert value(metrics, "illu_job_inference_seconds_bucket", kind="text", le="2.0") == 1
    assert value(metrics, "illu_job_duration_seconds_gsum", kind="text") == 2.5
    assert value(metrics, "illu_job_queue_wait_seconds_gsum", kind="text") == 0.4
    assert value(metrics, "illu_jobs", kind="text", status="succeeded") == 2
    assert value(metrics, "illu_images_generated") == 1


def test_workers_report_memory_and_models_through_heartbeats(metrics_token, clean_heartbeats):
    from work.redis_queue import get_redis

    state = {
        "name": "gpu-7",
        "device": "cuda:0",
        "memory_kind": "cuda",
        "memory_total": 80 * 2**30,
        "memory_used": 9 * 2**30,
        "memory_reserved": 8 * 2**30,
        "models": ["stabilityai/stable-diffusion-xl-base-1.0"],
        "current_job": "job-1",
        "compile_graphs_after_warmup": 2,
        "compile_eager_fallbacks": 1,
        "pid": 42,
        "host": "gpu-host",
        "time": time.time(),
    }
    write_heartbeat(get_redis(), state, ttl=30)
    metrics = scrape()
    labels = {"worker": "gpu-7", "device": "cuda:0", "kind": "cuda"}
    assert value(metrics, "illu_workers_live") == 1
    assert value(metrics, "illu_worker_memory_used_bytes", **labels) == 9 * 2**30
    assert value(metrics, "illu_worker_memory_total_bytes", **labels) == 80 * 2**30
    assert value(metrics, "illu_worker_busy", worker="gpu-7") == 1
    model = "stabilityai/stable-diffusion-xl-base-1.0"
    assert value(metrics, "illu_worker_model_loaded", worker="gpu-7", model=model) == 1
    assert value(metrics, "illu_worker_graphs_compiled_after_warmup", worker="gpu-7") == 2
    assert value(metrics, "illu_worker_compiled_eager_fallbacks", worker="gpu-7") == 1
    assert "illu_rq_workers" in {name for name, _ in metrics}


def test_a_failing_source_is_reported_and_the_rest_still_renders(metrics_token, monkeypatch):
    def down():
        raise ConnectionError("redis is down")

    monkeypatch.setattr(selectors, "queue_depths", down)
    metrics = scrape()
    assert value(metrics, "illu_metrics_source_up", source="redis") == 0
    assert value(metrics, "illu_metrics_source_up", source="database") == 1
    assert ("illu_queue_depth", frozenset({("queue", "gpu")})) not in metrics


def test_usage_counters_per_user_class_add_up_the_ended_jobs(make_user, metrics_token):
    from accounts.models import Quota

    plain, staff, priority = make_user(), make_user(staff=True), make_user()
    Quota.objects.create(user=priority, allow_high_priority=True)
    now = timezone.now()
    for owner, gpu_ms, images in ((plain, 1500, 2), (plain, 500, 1), (staff, 250, 1),
                                  (priority, 4000, 4)):  # fmt: skip
        GenerationJob.objects.create(
            owner=owner, kind="text", status="succeeded", finished_at=now, gpu_ms=gpu_ms,
            generated_count=images,
        )  # fmt: skip
    GenerationJob.objects.create(owner=plain, kind="text", status="running", gpu_ms=0)
    metrics = scrape()
    assert value(metrics, "illu_usage_gpu_seconds_total", user_class="standard") == 2.0
    assert value(metrics, "illu_usage_images_total", user_class="standard") == 3
    assert value(metrics, "illu_usage_jobs_total", user_class="standard") == 2
    assert value(metrics, "illu_usage_gpu_seconds_total", user_class="staff") == 0.25
    assert value(metrics, "illu_usage_jobs_total", user_class="priority") == 1
    assert value(metrics, "illu_usage_gpu_seconds_total", user_class="priority") == 4.0
