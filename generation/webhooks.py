"""Job webhooks: signed POSTs, one delivery row each, sent from the `webhooks` RQ queue with
retries and back-off, so a slow receiver never holds a GPU worker."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Retry
from rq.job import Job

from work.redis_queue import get_queue, get_redis

from .models import DeliveryStatus, GenerationJob, WebhookDelivery
from .webhook_targets import (
    WebhookHostUnresolved,
    WebhookTarget,
    WebhookTargetRefused,
    resolve_webhook_target,
)

logger = logging.getLogger(__name__)

WEBHOOK_QUEUE = "webhooks"
SIGNATURE_HEADER = "X-Illu-Signature"
DELIVERY_HEADER = "X-Illu-Delivery"
EVENT_HEADER = "X-Illu-Event"
DEFAULT_EVENTS = ("completed",)
RETRY_INTERVALS = [2, 10, 60, 300, 900]


def sign(body: bytes, secret: str | None = None) -> str:
    key = (secret or settings.ILLU_WEBHOOK_SECRET).encode()
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(body: bytes, signature: str, secret: str | None = None) -> bool:
    """What a receiver does: constant-time compare of the header with its own HMAC."""
    return hmac.compare_digest(sign(body, secret), signature)


def webhook_emit(job: GenerationJob, event: str, data: dict) -> WebhookDelivery | None:
    """Record and queue one delivery if the job asked for this event."""
    if not job.webhook_url or event not in (job.webhook_events or DEFAULT_EVENTS):
        return None
    payload = {"event": event, "job": str(job.id), "data": data, "sent_at": timezone.now()}
    delivery = WebhookDelivery.objects.create(
        job=job,
        event=event,
        url=job.webhook_url,
        payload=json.loads(json.dumps(payload, cls=DjangoJSONEncoder)),
    )
    transaction.on_commit(lambda: _enqueue(delivery))
    return delivery


def _enqueue(delivery: WebhookDelivery) -> None:
    retries = max(0, settings.ILLU_WEBHOOK_MAX_ATTEMPTS - 1)
    try:
        _enqueue_delivery(delivery, retries)
    except RedisError as exc:
        # Runs after commit, often inside the GPU worker: a Redis outage must not raise there.
        logger.warning("webhook delivery %s recorded but not queued (Redis: %s)", delivery.id, exc)


def _enqueue_delivery(delivery: WebhookDelivery, retries: int) -> None:
    get_queue(WEBHOOK_QUEUE).enqueue(
        "generation.webhooks.deliver_webhook",
        str(delivery.id),
        job_id=f"webhook-{delivery.id}",
        retry=Retry(max=retries, interval=RETRY_INTERVALS[:retries]) if retries else None,
        job_timeout=int(settings.ILLU_WEBHOOK_TIMEOUT) + 30,
        failure_ttl=7 * 24 * 3600,
    )


def webhook_deliveries_enqueue_lost(*, older_than: datetime, dry_run: bool = False) -> list[str]:
    """Pending deliveries (of the last day) that Redis does not hold: their enqueue failed
    during an outage, or Redis lost them. Enqueue them again; receivers de-duplicate by the
    delivery id, so at-least-once stays safe."""
    pending = WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING,
        created_at__lt=older_than,
        created_at__gte=timezone.now() - timedelta(days=1),
    )
    redis = get_redis()
    lost = [d for d in pending if not Job.exists(f"webhook-{d.id}", connection=redis)]
    if not dry_run:
        for delivery in lost:
            _enqueue(delivery)
    return [str(delivery.id) for delivery in lost]


class DeliveryFailed(Exception):
    pass


def deliver_webhook(delivery_id: str) -> int:
    """POST the payload once; raising makes RQ retry it later with back-off."""
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    if delivery.status == DeliveryStatus.DELIVERED:
        return 200
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body),
        DELIVERY_HEADER: str(delivery.id),
        EVENT_HEADER: delivery.event,
        "User-Agent": "illuplatform-webhooks/1",
    }
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=delivery.attempts + 1)
    try:
        # Checked again now, not only at creation: the host's DNS may have changed since.
        target = resolve_webhook_target(delivery.url)
    except WebhookHostUnresolved as exc:
        _record_failure(delivery, None, str(exc))
        raise DeliveryFailed(str(exc)) from exc
    except WebhookTargetRefused as exc:
        _record_failure(delivery, None, f"refused: {exc}", final=True)
        return 0  # never retried: the address is refused, not unreachable
    try:
        response = _post_to(target, delivery.url, body, headers)
    except httpx.HTTPError as exc:
        _record_failure(delivery, None, f"{type(exc).__name__}: {exc}")
        raise DeliveryFailed(str(exc)) from exc
    if 200 <= response.status_code < 300:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.DELIVERED,
            response_status=response.status_code,
            delivered_at=timezone.now(),
            last_error="",
        )
        return response.status_code
    _record_failure(delivery, response.status_code, f"HTTP {response.status_code}")
    raise DeliveryFailed(f"receiver answered {response.status_code}")


def _post_to(target: WebhookTarget, url: str, body: bytes, headers: dict) -> httpx.Response:
    """POST to the address that was checked (the URL's host stays in Host and in TLS SNI and
    certificate checks), following no redirect and reading at most
    ILLU_WEBHOOK_MAX_RESPONSE_BYTES of the answer, which only its status matters for."""
    original = httpx.URL(url)
    pinned = original.copy_with(host=str(target.address))
    limit = settings.ILLU_WEBHOOK_MAX_RESPONSE_BYTES
    with httpx.Client(timeout=settings.ILLU_WEBHOOK_TIMEOUT, follow_redirects=False) as client:
        request = client.build_request(
            "POST",
            pinned,
            content=body,
            headers={**headers, "Host": original.netloc.decode("ascii")},
            extensions={"sni_hostname": target.hostname},
        )
        response = client.send(request, stream=True)
        try:
            received = 0
            for chunk in response.iter_raw():
                received += len(chunk)
                if received >= limit:
                    break
        finally:
            response.close()
    return response


def _record_failure(
    delivery: WebhookDelivery, status: int | None, error: str, *, final: bool = False
) -> None:
    delivery.refresh_from_db()
    final = final or delivery.attempts >= settings.ILLU_WEBHOOK_MAX_ATTEMPTS
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        response_status=status,
        last_error=error[:1000],
        status=DeliveryStatus.FAILED if final else DeliveryStatus.PENDING,
    )
    logger.warning("webhook %s to %s failed: %s", delivery.id, delivery.url, error)
