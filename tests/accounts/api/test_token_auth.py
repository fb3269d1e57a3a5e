import subprocess
import sys

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken, hash_token
from accounts.services import api_token_create, api_token_revoke
from tests.conftest import REPO_ROOT, database_url_for_subprocess


@pytest.mark.django_db(transaction=True)
def test_createuser_prints_a_working_token_on_its_last_line(worker_env):
    result = subprocess.run(
        [sys.executable, "manage.py", "createuser", "carol", "--password", "carol-pw-123"],
        cwd=REPO_ROOT,
        env={**worker_env, "DATABASE_URL": database_url_for_subprocess()},
        capture_output=True,
        text=True,
        check=True,
    )
    token = result.stdout.strip().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/jobs/").status_code == 200


def test_wrong_password_gets_the_error_body(user):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "alice", "password": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_credentials"


def test_tokens_are_stored_only_as_hashes(user):
    _, raw_key = api_token_create(user=user)
    stored = ApiToken.objects.get(user=user)
    assert stored.key_hash == hash_token(raw_key)
    assert raw_key not in {stored.key_hash, stored.prefix, stored.name}


def test_revoked_token_is_refused(user):
    token, raw_key = api_token_create(user=user)
    api_token_revoke(token=token)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw_key}")
    response = client.get("/api/v1/jobs/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_no_credentials_is_401_with_error_body(db):
    response = APIClient().get("/api/v1/jobs/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
