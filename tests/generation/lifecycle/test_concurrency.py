"""Concurrent duplicate requests: idempotency keys and quotas hold under races."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from accounts.models import Quota
from generation.models import GenerationJob
from tests.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)

BODY = {"kind": "text", "prompt": "once", "width": 256, "height": 256, "steps": 2}


def _post_concurrently(user, count: int, headers: dict | None = None) -> list:
    clients = [client_for(user) for _ in range(count)]

    def post(client):
        try:
            return client.post("/api/v1/jobs/", BODY, format="json", **(headers or {}))
        finally:
            connection.close()  # each thread has its own connection

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(post, clients))


def test_concurrent_requests_with_one_idempotency_key_make_one_job(user, empty_queues):
    responses = _post_concurrently(user, 6, {"HTTP_IDEMPOTENCY_KEY": "order-42"})
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert GenerationJob.objects.filter(owner=user).count() == 1


def test_another_key_or_user_makes_another_job(user, make_user, api, empty_queues):
    first = api.post("/api/v1/jobs/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1").json()
    second = api.post("/api/v1/jobs/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k2").json()
    other = client_for(make_user("bob"))
    third = other.post("/api/v1/jobs/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1").json()
    assert len({first["id"], second["id"], third["id"]}) == 3


def test_concurrent_requests_never_exceed_the_concurrency_quota(user, empty_queues):
    Quota.objects.create(user=user, max_concurrent_jobs=2)
    responses = _post_concurrently(user, 6)
    codes = sorted(r.status_code for r in responses)
    assert codes == [201, 201, 429, 429, 429, 429]
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["error"]["code"] == "quota_exceeded"
    assert int(refused["Retry-After"]) > 0
    assert GenerationJob.objects.filter(owner=user).count() == 2


def test_daily_image_quota_counts_images(user, api, empty_queues):
    Quota.objects.create(user=user, images_per_day=5)
    assert api.post("/api/v1/jobs/", {**BODY, "num_images": 4}, format="json").status_code == 201
    over = api.post("/api/v1/jobs/", {**BODY, "num_images": 2}, format="json")
    assert over.status_code == 429 and "images" in over.json()["error"]["message"]
    assert api.post("/api/v1/jobs/", {**BODY, "num_images": 1}, format="json").status_code == 201
