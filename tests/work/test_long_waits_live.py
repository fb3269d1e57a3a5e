"""Long waits against one live uvicorn (shared by this module's tests), as clients see them:

- open event streams and ``Prefer: wait`` requests hold no database connection and no thread
  each while they wait (issue 22, finding 1);
- revoking the token, signing out the session or deactivating the user ends an open stream
  with an ``error`` event ``not_authenticated`` (finding 7)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable

import httpx
import pytest
from django.db import connection
from django.test import Client

from accounts.services import api_token_create, api_token_revoke
from generation.models import GenerationJob
from tests.conftest import client_for, database_url_for_subprocess
from tests.fixtures.web_server import start_uvicorn

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

JOB = {"kind": "text", "prompt": "a lighthouse", "width": 256, "height": 256}
SERVER_APPLICATION = "illu-long-wait-server"
METRICS_TOKEN = "long-waits-test-metrics"
POOL_MAX = 3
# Small caps, so a few clients reach them; the per-process cap is out of the way here.
SERVER_SETTINGS = {
    "ILLU_STREAM_AUTH_RECHECK_SECONDS": "0.5",
    "ILLU_MAX_STREAMS_PER_USER": "5",
    "ILLU_MAX_WAITS_PER_USER": "2",
    "ILLU_MAX_STREAMS_PER_PROCESS": "100",
    "ILLU_DB_POOL_MIN": "0",
    "ILLU_DB_POOL_MAX": str(POOL_MAX),
    "ILLU_DB_POOL_TIMEOUT": "3",
    "ILLU_METRICS_TOKEN": METRICS_TOKEN,
}


@pytest.fixture(scope="module")
def long_wait_server(django_db_setup, django_db_blocker, start_python):
    """uvicorn on the test database and this test process's Redis; yields (base URL, pid)."""
    from django.conf import settings

    from illuplatform.embedded import stop_process

    with django_db_blocker.unblock():
        database_url = database_url_for_subprocess()
    if "postgres" in database_url:  # its connections are the ones database_backends counts
        database_url += f"?application_name={SERVER_APPLICATION}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "illuplatform.settings.test",
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONUNBUFFERED": "1",
        **SERVER_SETTINGS,
    }
    process, base, _ = start_uvicorn(start_python, env, "long-waits")
    yield base, process.pid
    stop_process(process, timeout=10)


def open_long_waits(base: str) -> int:
    response = httpx.get(
        f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=30
    )
    for line in response.text.splitlines():
        if line.startswith("illu_long_waits_open "):
            return int(float(line.split()[1]))
    raise AssertionError(response.text)


def wait_until_open(base: str, count: int) -> None:
    """Until the server counts ``count`` long waits open (bounded, so a bug fails)."""
    deadline = time.monotonic() + 30
    while open_long_waits(base) != count:
        assert time.monotonic() < deadline, f"never {count} open: {open_long_waits(base)}"
        time.sleep(0.1)


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def database_backends() -> int:
    """PostgreSQL backends the server holds open on the test database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s",
            [SERVER_APPLICATION],
        )
        return cursor.fetchone()[0]


def closing_its_connection(measure: Callable[[], object]) -> Callable[[], object]:
    """``measure`` for asyncio's worker thread, which gets a Django connection of its own
    (from this process's pool): closed at the end, it goes back to the pool. Left open, it
    stays checked out after the thread ends, the pool's close at the session's end misses it,
    and DROP DATABASE of the test database waits PostgreSQL's 5 s for it, then fails."""

    def measured() -> object:
        try:
            return measure()
        finally:
            connection.close()

    return measured


def user_with_token(make_user, name: str) -> tuple[object, dict]:
    user = make_user(name)
    _, token = api_token_create(user=user, name="stream")
    return user, {"Authorization": f"Token {token}"}


def queued_job(owner) -> GenerationJob:
    """A job as the API creates it; no worker runs here, so it stays queued."""
    created = client_for(owner).post("/api/v1/jobs/", JOB, format="json")
    assert created.status_code == 201, created.content
    return GenerationJob.objects.get(pk=created.json()["id"])


class EventReader:
    """Reads a stream's events one at a time and keeps it open meanwhile (leaving an
    ``aiter_lines`` loop would close the connection)."""

    def __init__(self, response: httpx.Response):
        self.lines = response.aiter_lines()

    async def next_event(self) -> str:
        async for line in self.lines:
            if line.startswith("event: "):
                return line.removeprefix("event: ")
        raise AssertionError("the stream ended")


STREAMS_PER_USER = 4
USERS = 3  # 12 streams and 3 waits: more than the pool's connections


async def hold_streams_and_waits(base: str, clients, jobs, measure) -> dict:
    """Open STREAMS_PER_USER streams and one ``Prefer: wait=60`` per client, read each
    stream's first event, wait until the server counts them all open, take ``measure()``
    (in a thread), then leave (the server gives every slot back)."""
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(60)) as http:
        streams, waits = [], []
        for (_, headers), job in zip(clients, jobs, strict=True):
            for _ in range(STREAMS_PER_USER):
                request = http.build_request(
                    "GET", f"/api/v1/jobs/{job.id}/events/", headers=headers
                )
                streams.append(await http.send(request, stream=True))
            body = {"kind": "text", "prompt": "held", "width": 256, "height": 256}
            waiting = http.post(
                "/api/v1/jobs/", json=body, headers={**headers, "Prefer": "wait=60"}
            )
            waits.append(asyncio.ensure_future(waiting))
        try:
            statuses = [response.status_code for response in streams]
            readers = [EventReader(response) for response in streams]
            first = [await reader.next_event() for reader in readers]
            await asyncio.to_thread(wait_until_open, base, len(streams) + len(waits))
            measured = await asyncio.to_thread(closing_its_connection(measure))
        finally:
            for response in streams:
                await response.aclose()
            for waiting in waits:
                waiting.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
    return {"statuses": statuses, "first": first, "measured": measured}


def test_open_streams_and_waits_hold_no_thread_each(long_wait_server, make_user, empty_queues):
    base, pid = long_wait_server
    clients = [user_with_token(make_user, f"threads{i}") for i in range(USERS)]
    jobs = [queued_job(user) for user, _ in clients]
    open_long_waits(base)  # a request first: the server's lazy parts are loaded
    threads_before = thread_count(pid)

    seen = asyncio.run(hold_streams_and_waits(base, clients, jobs, lambda: thread_count(pid)))

    assert seen["statuses"] == [200] * USERS * STREAMS_PER_USER
    assert seen["first"] == ["status"] * USERS * STREAMS_PER_USER
    # A thread per stream and wait would be 15 more; short units come and go.
    assert seen["measured"] - threads_before <= 4, (threads_before, seen["measured"])
    wait_until_open(base, 0)  # every slot came back when its client left


@pytest.mark.skipif(
    "postgres" not in os.environ.get("DATABASE_URL", ""),
    reason="counts PostgreSQL backends (pg_stat_activity); SQLite has no connections to count",
)
def test_open_streams_and_waits_hold_no_database_connection(
    long_wait_server, make_user, empty_queues
):
    """More streams and waits than the server's pool has connections all open, and the
    database sees no more backends than the pool's (the server's only ones)."""
    base, _ = long_wait_server
    clients = [user_with_token(make_user, f"backends{i}") for i in range(USERS)]
    jobs = [queued_job(user) for user, _ in clients]

    seen = asyncio.run(hold_streams_and_waits(base, clients, jobs, database_backends))

    assert seen["statuses"] == [200] * USERS * STREAMS_PER_USER
    assert seen["measured"] <= POOL_MAX
    wait_until_open(base, 0)


def read_until_end(response: httpx.Response, lines=None) -> list[tuple[str, dict]]:
    events, name = [], None
    for line in lines or response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: ") and name:
            events.append((name, json.loads(line.removeprefix("data: "))))
            name = None
    return events


def test_revoking_the_token_signing_out_or_deactivating_ends_an_open_stream(
    long_wait_server, make_user
):
    base, _ = long_wait_server
    alice, token_headers = user_with_token(make_user, "revoked")
    job = queued_job(alice)
    browser = Client()
    browser.force_login(alice)
    session_headers = {"Cookie": f"sessionid={browser.cookies['sessionid'].value}"}
    bob, bob_headers = user_with_token(make_user, "deactivated")
    bobs_job = queued_job(bob)
    token = alice.api_tokens.get(name="stream")
    url = f"{base}/api/v1/jobs/{job.id}/events/"
    timeout = httpx.Timeout(60)

    endings = {}
    with (
        httpx.stream("GET", url, headers=token_headers, timeout=timeout) as by_token,
        httpx.stream("GET", url, headers=session_headers, timeout=timeout) as by_session,
        httpx.stream(
            "GET", f"{base}/api/v1/jobs/{bobs_job.id}/events/", headers=bob_headers,
            timeout=timeout,
        ) as by_bob,
    ):  # fmt: skip
        assert by_token.status_code == by_session.status_code == by_bob.status_code == 200
        api_token_revoke(token=token)
        endings["token"] = read_until_end(by_token)
        browser.logout()
        endings["session"] = read_until_end(by_session)
        bob.is_active = False
        bob.save(update_fields=["is_active"])
        endings["deactivated"] = read_until_end(by_bob)

    for how, events in endings.items():
        assert events[0] == ("status", {"status": "queued"}), how
        name, data = events[-1]
        assert name == "error" and data["code"] == "not_authenticated", (how, events)
    wait_until_open(base, 0)


def test_a_stream_whose_final_event_was_lost_ends_when_the_guard_finds_the_row_ended(
    long_wait_server, make_user, empty_queues
):
    """The row ends without its event reaching Redis (a worker killed between commit and
    publish): the stream still gets the final status and the job, within a guard round."""
    base, _ = long_wait_server
    user, headers = user_with_token(make_user, "lost")
    job = queued_job(user)
    url = f"{base}/api/v1/jobs/{job.id}/events/"
    with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(60)) as stream:
        assert stream.status_code == 200
        lines = stream.iter_lines()
        opening = [next(lines), next(lines)]
        assert opening == ["event: status", 'data: {"status": "queued"}']
        GenerationJob.objects.filter(pk=job.pk).update(status="cancelled")  # no event
        events = read_until_end(stream, lines)

    assert ("status", {"status": "cancelled", "error": None}) in events
    assert events[-1][0] == "completed" and events[-1][1]["status"] == "cancelled"
    wait_until_open(base, 0)
