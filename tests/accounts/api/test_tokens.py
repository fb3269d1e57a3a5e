"""Token listing and revocation through the API."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.services import api_token_create

pytestmark = pytest.mark.django_db


def test_list_shows_own_tokens_without_secrets(api, alice, bob):
    api_token_create(user=bob, name="bob's")
    body = api.get("/api/v1/auth/tokens/").json()
    assert body["count"] == 1
    [token] = body["results"]
    assert set(token) == {
        "id", "name", "prefix", "created_at", "last_used_at", "revoked_at", "current",
    }  # fmt: skip
    assert token["current"] is True and token["last_used_at"] is not None
    assert "key_hash" not in token


def test_a_revoked_token_stops_working_at_once(alice):
    token, raw_key = api_token_create(user=alice, name="laptop")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {raw_key}")
    assert other.get("/api/v1/avatars/").status_code == 200

    _, main_key = api_token_create(user=alice, name="main")
    main = APIClient()
    main.credentials(HTTP_AUTHORIZATION=f"Token {main_key}")
    assert main.delete(f"/api/v1/auth/tokens/{token.pk}/").status_code == 204
    token.refresh_from_db()
    assert token.revoked_at is not None
    response = other.get("/api/v1/avatars/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    # Revoking twice is harmless, and the list still shows it, revoked.
    assert main.delete(f"/api/v1/auth/tokens/{token.pk}/").status_code == 204
    listed = {item["id"]: item for item in main.get("/api/v1/auth/tokens/").json()["results"]}
    assert listed[str(token.pk)]["revoked_at"] is not None


def test_a_token_can_revoke_itself(api):
    [token] = ApiToken.objects.all()
    assert api.delete(f"/api/v1/auth/tokens/{token.pk}/").status_code == 204
    assert api.get("/api/v1/auth/tokens/").status_code == 401


def test_the_password_exchange_still_works_and_is_listed(alice):
    response = APIClient().post(
        "/api/v1/auth/token/",
        {"username": "alice", "password": "alice-password-1"},
        format="json",
    )
    assert response.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    names = [item["name"] for item in client.get("/api/v1/auth/tokens/").json()["results"]]
    assert names == ["password login"]
