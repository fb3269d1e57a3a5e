"""Throttling: password guessing is locked out per username and per client address on the
token exchange and the sign-in page (the right password too, with 429 and Retry-After), and
bursts of job creation and uploads are limited per user. Each limit is a setting; the test
settings are loose, so each test here tightens one."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from generation.models import GenerationJob
from tests.conftest import client_for
from tests.fixtures.api import image_file

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture(autouse=True)
def fresh_counters():
    cache.clear()  # counters of earlier tests in this process
    yield
    cache.clear()


def password_of(user) -> str:
    return f"{user.username}-password-1"  # make_user's convention


def exchange(client, username, password):
    return client.post(TOKEN_URL, {"username": username, "password": password}, format="json")


def assert_throttled(response, settings):
    assert response.status_code == 429, response.content
    assert response.json()["error"]["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= settings.ILLU_LOGIN_LOCKOUT_SECONDS


def test_after_n_wrong_passwords_the_right_one_gets_429(user, make_user, settings):
    settings.ILLU_LOGIN_MAX_FAILURES_PER_USERNAME = 3
    client = APIClient()
    for _ in range(3):
        assert exchange(client, "alice", "guess").json()["error"]["code"] == "invalid_credentials"
    assert_throttled(exchange(client, "alice", password_of(user)), settings)
    # The lock is alice's: another user on the same address still signs in.
    bob = make_user("bob")
    assert exchange(client, "bob", password_of(bob)).status_code == 200


def test_the_lock_is_per_username_whatever_the_address(user, settings):
    settings.ILLU_LOGIN_MAX_FAILURES_PER_USERNAME = 2
    for address in ("10.0.0.1", "10.0.0.2"):
        exchange(APIClient(REMOTE_ADDR=address), "alice", "guess")
    response = exchange(APIClient(REMOTE_ADDR="10.0.0.3"), "alice", password_of(user))
    assert_throttled(response, settings)


def test_an_address_guessing_many_usernames_is_locked_out(make_user, settings):
    settings.ILLU_LOGIN_MAX_FAILURES_PER_IP = 3
    carol = make_user("carol")
    attacker = APIClient(REMOTE_ADDR="10.9.9.9")
    for name in ("u1", "u2", "u3"):
        assert exchange(attacker, name, "guess").status_code == 400
    assert_throttled(exchange(attacker, "carol", password_of(carol)), settings)
    # A forged X-Forwarded-For is not a new address (no trusted proxy is configured).
    forged = APIClient(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert_throttled(exchange(forged, "carol", password_of(carol)), settings)
    assert (
        exchange(APIClient(REMOTE_ADDR="10.1.1.1"), "carol", password_of(carol)).status_code == 200
    )


def test_a_success_clears_the_usernames_failures(user, settings):
    settings.ILLU_LOGIN_MAX_FAILURES_PER_USERNAME = 3
    client = APIClient()
    for _ in range(2):
        exchange(client, "alice", "guess")
    assert exchange(client, "alice", password_of(user)).status_code == 200
    for _ in range(2):
        exchange(client, "alice", "guess")
    assert exchange(client, "alice", password_of(user)).status_code == 200


def test_the_lock_ends_when_the_window_has_passed(user, settings):
    settings.ILLU_LOGIN_MAX_FAILURES_PER_USERNAME = 1
    settings.ILLU_LOGIN_LOCKOUT_SECONDS = 1
    client = APIClient()
    exchange(client, "alice", "guess")
    assert exchange(client, "alice", password_of(user)).status_code == 429
    # Poll (locked attempts are not counted, so asking does not extend the lock).
    deadline = time.monotonic() + 60
    while exchange(client, "alice", password_of(user)).status_code == 429:
        assert time.monotonic() < deadline, "still locked a minute after a 1 s window"
        time.sleep(0.05)


def test_the_sign_in_page_locks_out_with_a_clear_429(user, settings):
    settings.ILLU_LOGIN_MAX_FAILURES_PER_USERNAME = 3
    browser = Client()
    for _ in range(3):
        page = browser.post("/login/", {"username": "alice", "password": "guess"})
        assert page.status_code == 200  # the form again, with its error
    page = browser.post("/login/", {"username": "alice", "password": password_of(user)})
    assert page.status_code == 429
    assert 1 <= int(page["Retry-After"]) <= settings.ILLU_LOGIN_LOCKOUT_SECONDS
    assert "Too many failed sign-ins" in page.content.decode()
    assert "_auth_user_id" not in browser.session  # not signed in
    # The token exchange shares the lock: guessing on one door locks the other.
    assert_throttled(exchange(APIClient(), "alice", password_of(user)), settings)


def test_token_guesses_lock_the_sign_in_page_too(user, settings):
    settings.ILLU_LOGIN_MAX_FAILURES_PER_USERNAME = 2
    for _ in range(2):
        exchange(APIClient(), "alice", "guess")
    page = Client().post("/login/", {"username": "alice", "password": password_of(user)})
    assert page.status_code == 429


def test_the_admin_sign_in_shares_the_lock(make_user, settings):
    settings.ILLU_LOGIN_MAX_FAILURES_PER_USERNAME = 2
    ops = make_user("ops", staff=True)
    browser = Client()
    for _ in range(2):
        assert (
            browser.post("/admin/login/", {"username": "ops", "password": "x"}).status_code == 200
        )
    page = browser.post("/admin/login/", {"username": "ops", "password": password_of(ops)})
    assert page.status_code == 429 and "Too many failed sign-ins" in page.content.decode()
    assert "_auth_user_id" not in browser.session


def test_job_creation_bursts_are_throttled_per_user(api, make_user, settings, empty_queues):
    settings.ILLU_THROTTLE_JOB_CREATE = "2/min"
    body = {"kind": "text", "prompt": "burst", "width": 256, "height": 256}
    assert [api.post("/api/v1/jobs/", body, format="json").status_code for _ in range(2)] == [
        201,
        201,
    ]
    response = api.post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 429 and response.json()["error"]["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert GenerationJob.objects.count() == 2
    assert api.get("/api/v1/jobs/").status_code == 200  # reading is not creating
    assert (
        client_for(make_user("bob")).post("/api/v1/jobs/", body, format="json").status_code == 201
    )


def test_upload_bursts_are_throttled_per_user_across_upload_endpoints(api, settings):
    settings.ILLU_THROTTLE_UPLOADS = "1/min"
    first = api.post("/api/v1/uploads/", {"image": image_file()}, format="multipart")
    assert first.status_code == 201
    response = api.post(
        "/api/v1/avatars/", {"image": image_file(), "allow_no_face": True}, format="multipart"
    )
    assert response.status_code == 429 and response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1
