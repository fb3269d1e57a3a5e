"""Long waits (event streams, ``Prefer: wait``) have limits: per user (429 ``throttled``) and
per web process (503 ``unavailable``), both with ``Retry-After``, and a database that fails
while a stream or a wait signs in is a 503 ``unavailable``, never a 401 (issue 22, finding 1).

Through the test client: a stream response that is not read yet holds its slot until it is
closed, as an open stream does."""

from __future__ import annotations

import pytest
from django.core.signals import request_finished
from django.db import OperationalError, close_old_connections, connection

from generation.models import GenerationJob
from tests.conftest import client_for
from work.long_wait_caps import open_in_process
from work.redis_queue import get_redis

pytestmark = pytest.mark.django_db

JOB = {"kind": "text", "prompt": "a lighthouse", "width": 256, "height": 256}


def queued_job(owner) -> GenerationJob:
    return GenerationJob.objects.create(owner=owner, kind="text", params={"prompt": "x"})


def events_url(job) -> str:
    return f"/api/v1/jobs/{job.id}/events/"


@pytest.fixture
def no_leftover_slots(user, bob):
    """Members another test of this process left for the same user ids expire after their
    TTL; drop them now, so this test counts only its own."""
    for who in (user, bob):
        get_redis().delete(f"illu:long-waits:stream:{who.pk}", f"illu:long-waits:wait:{who.pk}")


def end(stream) -> None:
    """What a server does when a client leaves: close the response (as the test client's own
    wrapper does, without closing the test's transaction)."""
    request_finished.disconnect(close_old_connections)
    try:
        stream.close()
    finally:
        request_finished.connect(close_old_connections)


def assert_refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert int(response["Retry-After"]) > 0


def test_a_user_over_the_stream_cap_gets_429_until_one_of_their_streams_closes(
    api, user, settings, no_leftover_slots
):
    settings.ILLU_MAX_STREAMS_PER_USER = 2
    job = queued_job(user)
    first, second = api.get(events_url(job)), api.get(events_url(job))
    assert first.status_code == second.status_code == 200

    assert_refused(api.get(events_url(job)), 429, "throttled")

    end(first)  # the stream ends: its slot comes back
    third = api.get(events_url(job))
    assert third.status_code == 200
    end(second)
    end(third)


def test_the_process_cap_gets_503_whoever_asks(api, bob_api, user, bob, settings):
    settings.ILLU_MAX_STREAMS_PER_PROCESS = open_in_process() + 1
    mine, theirs = queued_job(user), queued_job(bob)
    open_stream = api.get(events_url(mine))
    assert open_stream.status_code == 200

    assert_refused(bob_api.get(events_url(theirs)), 503, "unavailable")
    end(open_stream)
    now_open = bob_api.get(events_url(theirs))
    assert now_open.status_code == 200
    end(now_open)


def test_a_wait_over_the_users_cap_is_429_and_creates_no_job(
    api, user, settings, empty_queues, no_leftover_slots
):
    settings.ILLU_MAX_WAITS_PER_USER = 0
    response = api.post("/api/v1/jobs/", JOB, format="json", HTTP_PREFER="wait=5")

    assert_refused(response, 429, "throttled")
    assert "waiting requests" in response.json()["error"]["message"]
    assert not GenerationJob.objects.filter(owner=user).exists()
    # Without the preference the same request creates its job.
    assert api.post("/api/v1/jobs/", JOB, format="json").status_code == 201


def refuse_every_query(execute, sql, params, many, context):
    raise OperationalError("connection to server failed: Connection refused")


def test_a_database_outage_while_a_stream_or_a_wait_signs_in_is_503_not_401(api, user):
    """Also a pool with no connection free in time: psycopg_pool's PoolTimeout is an
    OperationalError too."""
    job = queued_job(user)
    with connection.execute_wrapper(refuse_every_query):
        stream = api.get(events_url(job))
        wait = api.post("/api/v1/jobs/", JOB, format="json", HTTP_PREFER="wait=5")
        plain = api.get("/api/v1/jobs/")  # any API request: the same answer

    for response in (stream, wait, plain):
        assert_refused(response, 503, "unavailable")
        assert "database" in response.json()["error"]["message"]
    # A credential that signs nobody in is still a 401.
    anonymous = client_for(user)
    anonymous.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert anonymous.get(events_url(job)).status_code == 401
