"""Webhooks never reach the server's own network: refused at creation by address (metadata
service, Redis on localhost, private ranges), refused again at delivery when the host's DNS
changed to a private address (rebinding), delivered to the address that was checked, with no
redirect followed, a capped response read and a timeout. Receivers are real HTTP servers on
loopback; only DNS answers are injected, as the fault under test."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from generation import webhook_targets
from generation.models import DeliveryStatus, GenerationJob, WebhookDelivery
from generation.webhooks import deliver_webhook

pytestmark = pytest.mark.django_db

INTERNAL_TARGETS = [
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "https://localhost:6379/",  # Redis on the same machine
    "https://127.0.0.1/hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",  # loopback dressed as IPv6
    "https://[2002:7f00:1::]/hook",  # 6to4 around 127.0.0.1
    "https://[64:ff9b::a9fe:a9fe]/latest/meta-data/",  # NAT64 around 169.254.169.254
    "https://10.1.2.3/hook",
    "https://192.168.0.10/hook",
    "https://[fd00::1]/hook",  # unique local
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",  # multicast
    "https://240.0.0.1/hook",  # reserved
    "https://100.64.0.1/hook",  # carrier-grade NAT: not public
]


@pytest.fixture
def no_loopback(settings):
    settings.ILLU_WEBHOOK_ALLOW_LOOPBACK = False


@pytest.fixture
def fake_dns(monkeypatch):
    """Answers for made-up host names (the injected fault); every other name resolves as
    usual. Change ``answers[name]`` between calls to rebind a name."""
    answers: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            family = socket.AF_INET6 if ":" in answers[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(webhook_targets.socket, "getaddrinfo", getaddrinfo)
    return answers


class Receiver(BaseHTTPRequestHandler):
    """Records each POST; answers what the test set in ``server.reply``."""

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(dict(self.headers))
        status, headers, body_size = self.server.reply
        if status is None:  # never answer: the client must time out
            self.server.release.wait(30)
            return
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(body_size))
        self.end_headers()
        try:
            for _ in range(body_size // 65536):
                self.wfile.write(b"x" * 65536)
            self.server.body_finished = True
        except OSError:
            self.server.body_finished = False

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.received, server.reply, server.body_finished = [], (200, {}, 0), None
    server.release = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def delivery_to(url: str, user) -> WebhookDelivery:
    job = GenerationJob.objects.create(owner=user, kind="text", params={"prompt": "x"})
    return WebhookDelivery.objects.create(job=job, event="completed", url=url, payload={"x": 1})


@pytest.mark.parametrize("url", INTERNAL_TARGETS)
def test_internal_targets_are_refused_at_creation(api, no_loopback, url):
    response = api.post(
        "/api/v1/jobs/", {"kind": "text", "prompt": "x", "webhook": url}, format="json"
    )
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert "webhook" in error["fields"] and "address" in error["fields"]["webhook"][0]
    assert not GenerationJob.objects.exists()


def test_a_name_that_resolves_to_an_internal_address_is_refused(api, no_loopback, fake_dns):
    fake_dns["metadata.attacker.test"] = "169.254.169.254"
    response = api.post(
        "/api/v1/jobs/",
        {"kind": "text", "prompt": "x", "webhook": "https://metadata.attacker.test/x"},
        format="json",
    )
    assert response.status_code == 400
    assert "169.254.169.254" in response.json()["error"]["fields"]["webhook"][0]


def test_a_public_name_is_accepted(api, no_loopback, fake_dns, empty_queues):
    fake_dns["hooks.example.test"] = "93.184.216.34"
    response = api.post(
        "/api/v1/jobs/",
        {"kind": "text", "prompt": "x", "webhook": "https://hooks.example.test/x"},
        format="json",
    )
    assert response.status_code == 201, response.json()


def test_a_rebound_name_is_refused_at_delivery_and_nothing_is_sent(
    user, no_loopback, fake_dns, receiver
):
    fake_dns["rebind.attacker.test"] = "93.184.216.34"  # public when the job was created
    url = f"https://rebind.attacker.test:{receiver.server_port}/hook"
    delivery = delivery_to(url, user)
    fake_dns["rebind.attacker.test"] = "127.0.0.1"  # loopback when delivered
    deliver_webhook(str(delivery.id))  # returns: a refused target is not retried
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert "refused" in delivery.last_error and "127.0.0.1" in delivery.last_error
    assert receiver.received == []


def test_delivery_connects_to_the_checked_address_with_the_name_as_host(user, fake_dns, receiver):
    # The name resolves only through the check: the request reaching the receiver proves
    # that the connection went to the checked address, not to a second lookup.
    fake_dns["hooks.local.test"] = "127.0.0.1"
    delivery = delivery_to(f"http://hooks.local.test:{receiver.server_port}/hook", user)
    assert deliver_webhook(str(delivery.id)) == 200
    assert receiver.received[0]["Host"] == f"hooks.local.test:{receiver.server_port}"
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED


def test_redirects_are_not_followed(user, receiver):
    with ThreadingHTTPServer(("127.0.0.1", 0), Receiver) as elsewhere:
        elsewhere.received, elsewhere.reply = [], (200, {}, 0)
        threading.Thread(target=elsewhere.serve_forever, daemon=True).start()
        location = f"http://127.0.0.1:{elsewhere.server_port}/internal"
        receiver.reply = (307, {"Location": location}, 0)
        delivery = delivery_to(f"http://127.0.0.1:{receiver.server_port}/hook", user)
        with pytest.raises(Exception, match="307"):
            deliver_webhook(str(delivery.id))
        elsewhere.shutdown()
        assert elsewhere.received == []
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.response_status == 307


def test_a_huge_answer_is_read_only_up_to_the_cap(user, receiver, settings):
    settings.ILLU_WEBHOOK_MAX_RESPONSE_BYTES = 1024
    receiver.reply = (200, {}, 256 * 1024 * 1024)  # more than any socket buffer holds
    delivery = delivery_to(f"http://127.0.0.1:{receiver.server_port}/hook", user)
    assert deliver_webhook(str(delivery.id)) == 200
    for _ in range(300):  # the receiver notices the closed connection
        if receiver.body_finished is not None:
            break
        threading.Event().wait(0.1)
    assert receiver.body_finished is False


def test_a_silent_receiver_times_out(user, receiver, settings):
    settings.ILLU_WEBHOOK_TIMEOUT = 0.5
    receiver.reply = (None, {}, 0)
    delivery = delivery_to(f"http://127.0.0.1:{receiver.server_port}/hook", user)
    with pytest.raises(Exception, match="timed out"):
        deliver_webhook(str(delivery.id))
    delivery.refresh_from_db()
    assert "Timeout" in delivery.last_error and delivery.status == DeliveryStatus.PENDING
