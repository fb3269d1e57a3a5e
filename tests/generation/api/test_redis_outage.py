"""Issue 13, finding 2 (API): while Redis is down, reads answer from the database, a new job is
stored and answered 201, and the reconciler enqueues it once Redis is back; nothing hangs."""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone
from rq.job import Job
from rq.serializers import JSONSerializer

from generation.models import GenerationJob
from generation.work_kind import reconcile_jobs
from work.redis_queue import get_queue, get_redis

pytestmark = pytest.mark.django_db(transaction=True)

JOB = {"kind": "text", "prompt": "a lighthouse", "width": 256, "height": 256}


def test_job_created_during_an_outage_is_stored_then_enqueued_by_the_reconciler(
    api, empty_queues, redis_down, settings
):
    response = api.post("/api/v1/jobs/", JOB, format="json")
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    assert GenerationJob.objects.get(pk=job_id).status == "queued"

    redis_down()
    settings.ILLU_RECONCILE_GRACE_SECONDS = 0
    GenerationJob.objects.filter(pk=job_id).update(created_at=timezone.now() - timedelta(seconds=5))
    assert reconcile_jobs().reenqueued == [job_id]
    rq_job = Job.fetch(job_id, connection=get_redis(), serializer=JSONSerializer)
    assert rq_job.get_status() == "queued" and rq_job.args == [job_id]


def test_reads_answer_from_the_database_during_an_outage(api, user, redis_down):
    created = api.post("/api/v1/jobs/", JOB, format="json").json()
    GenerationJob.objects.filter(pk=created["id"]).update(status="running")

    detail = api.get(f"/api/v1/jobs/{created['id']}/")
    listing = api.get("/api/v1/jobs/")

    assert detail.status_code == 200 and detail.json()["status"] == "running"
    assert detail.json()["progress"]["step"] == 0  # no live progress without Redis
    assert listing.status_code == 200 and listing.json()["count"] == 1


def test_what_needs_redis_now_is_a_clear_503(api, redis_down):
    created = api.post("/api/v1/jobs/", JOB, format="json").json()
    GenerationJob.objects.filter(pk=created["id"]).update(status="running")

    response = api.post(f"/api/v1/jobs/{created['id']}/cancel/")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert "Redis" in response.json()["error"]["message"]
    assert response["Retry-After"]


def test_ready_is_503_naming_redis(client, redis_down):
    response = client.get("/health/ready/")
    assert response.status_code == 503
    body = response.json()
    assert not body["checks"]["redis"]["ok"] and "redis" in body["error"]["message"]


def test_prefer_wait_falls_back_to_the_database_during_an_outage(api, redis_down):
    response = api.post("/api/v1/jobs/", JOB, format="json", HTTP_PREFER="wait=1")

    assert response.status_code == 201
    assert response.json()["status"] == "queued"
    assert GenerationJob.objects.filter(pk=response.json()["id"]).exists()


def test_event_stream_of_a_finished_job_works_during_an_outage(api, redis_down):
    created = api.post("/api/v1/jobs/", JOB, format="json").json()
    GenerationJob.objects.filter(pk=created["id"]).update(status="cancelled")

    response = api.get(f"/api/v1/jobs/{created['id']}/events/")

    async def read() -> str:
        return b"".join([chunk async for chunk in response.streaming_content]).decode()

    stream = async_to_sync(read)()

    assert response.status_code == 200
    assert "event: status" in stream and "event: completed" in stream


def test_webhook_delivery_recorded_during_an_outage_is_enqueued_by_the_reconciler(
    api, user, empty_queues, redis_down, settings
):
    from generation.models import WebhookDelivery
    from generation.webhooks import WEBHOOK_QUEUE, webhook_emit

    created = api.post("/api/v1/jobs/", JOB, format="json")
    GenerationJob.objects.filter(pk=created.json()["id"]).update(webhook_url="https://example.com/")
    job = GenerationJob.objects.get(pk=created.json()["id"])
    delivery = webhook_emit(job, "completed", {"status": "succeeded"})  # enqueue fails: logged

    redis_down()
    get_queue(WEBHOOK_QUEUE).empty()
    settings.ILLU_RECONCILE_GRACE_SECONDS = 0
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - timedelta(seconds=5)
    )
    assert reconcile_jobs().reenqueued_webhooks == [str(delivery.id)]
    assert f"webhook-{delivery.id}" in get_queue(WEBHOOK_QUEUE).job_ids
    assert reconcile_jobs().reenqueued_webhooks == []  # once is enough
