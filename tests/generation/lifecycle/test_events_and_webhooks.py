"""Progress reaches clients: Server-Sent Events over the real ASGI server, and signed
webhooks that are retried when the receiver fails."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from rq.job import Job
from rq.serializers import JSONSerializer

from accounts.services import api_token_create
from generation.models import DeliveryStatus, WebhookDelivery
from generation.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER, deliver_webhook, verify
from work.redis_queue import get_redis

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_warmup"),
]


def read_events(response, on_opening=None) -> list[tuple[str, dict]]:
    """Every event until the server ends the stream; ``on_opening`` runs once the first event
    arrived, that is once the server follows the job (events published before are not sent)."""
    events, name = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: ") and name:
            events.append((name, json.loads(line.removeprefix("data: "))))
            name = None
            if on_opening is not None and len(events) == 1:
                on_opening()
    return events


def test_sse_streams_progress_in_order_and_ends_on_completion(
    user, empty_queues, module_asgi_server, start_worker
):
    _, token = api_token_create(user=user)
    headers = {"Authorization": f"Token {token}"}
    start_worker()
    created = httpx.post(
        f"{module_asgi_server.url}/api/v1/jobs/",
        json={"kind": "text", "prompt": "streamed", "width": 256, "height": 256, "steps": 12},
        headers=headers,
    ).json()
    with httpx.stream(
        "GET", created["urls"]["events"], headers=headers, timeout=httpx.Timeout(120)
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)  # returns only when the server ends the stream

    names = [name for name, _ in events]
    assert names[0] == "status" and names[-1] == "completed"
    steps = [data["step"] for name, data in events if name == "progress"]
    assert steps == sorted(steps) and steps[-1] == 12
    assert names.count("image") == 1
    assert events[-1][1]["status"] == "succeeded" and events[-1][1]["images"]


class FlakyReceiver(BaseHTTPRequestHandler):
    """Answers 500 to the first delivery, 200 afterwards; remembers what it got."""

    received: list[tuple[dict, bytes]] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(500 if len(type(self).received) == 1 else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    FlakyReceiver.received = []
    server = HTTPServer(("127.0.0.1", 0), FlakyReceiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", FlakyReceiver.received
    server.shutdown()


def test_a_finished_job_streams_its_final_state_to_a_late_client_and_retries_its_webhook(
    user, make_user, empty_queues, module_asgi_server, run_worker_burst, receiver, settings
):
    """One finished job, two ways it reaches clients: the events stream of a client who comes
    after the end (and no one else's), and a signed webhook retried after a 500."""
    url, received = receiver
    _, token = api_token_create(user=user)
    created = httpx.post(
        f"{module_asgi_server.url}/api/v1/jobs/",
        json={"kind": "text", "prompt": "done already", "width": 256, "height": 256, "steps": 2,
              "webhook": url, "webhook_events": ["completed"]},
        headers={"Authorization": f"Token {token}"},
    ).json()  # fmt: skip
    run_worker_burst()

    # Server-Sent Events: a late client gets the final state, another user a 404.
    with httpx.stream(
        "GET", created["urls"]["events"], headers={"Authorization": f"Token {token}"}
    ) as response:
        events = read_events(response)
    assert [name for name, _ in events] == ["status", "progress", "image", "completed"]
    assert events[0][1]["status"] == "succeeded" and events[1][1]["step"] == 2
    _, other = api_token_create(user=make_user("mallory"))
    response = httpx.get(created["urls"]["events"], headers={"Authorization": f"Token {other}"})
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"

    # The webhook: queued for RQ with retries, signed, retried after the receiver's 500.
    delivery = WebhookDelivery.objects.get(job_id=created["id"], event="completed")
    rq_job = Job.fetch(f"webhook-{delivery.id}", connection=get_redis(), serializer=JSONSerializer)
    assert rq_job.retries_left == settings.ILLU_WEBHOOK_MAX_ATTEMPTS - 1  # RQ retries it

    with pytest.raises(Exception, match="500"):
        deliver_webhook(str(delivery.id))  # what the webhook worker runs: the receiver fails
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert deliver_webhook(str(delivery.id)) == 200  # the retry
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 2

    headers, body = received[-1]
    assert verify(body, headers[SIGNATURE_HEADER])
    assert not verify(body + b" ", headers[SIGNATURE_HEADER])
    assert headers[DELIVERY_HEADER] == str(delivery.id)
    payload = json.loads(body)
    assert payload["job"] == created["id"] and payload["data"]["status"] == "succeeded"


def test_webhook_must_be_https(api):
    response = api.post(
        "/api/v1/jobs/",
        {"kind": "text", "prompt": "x", "webhook": "http://example.com/hook"},
        format="json",
    )
    assert response.status_code == 400 and "webhook" in response.json()["error"]["fields"]
