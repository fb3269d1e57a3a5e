"""Django-level errors under /api/ answer with the JSON error body."""

from __future__ import annotations

import pytest
from django.core.exceptions import RequestDataTooBig
from django.test import RequestFactory
from rest_framework.test import APIClient

from core.api_errors import json_bad_request, json_server_error

pytestmark = pytest.mark.django_db


def test_unknown_api_urls_are_json_404(api):
    for client in (api, APIClient()):
        response = client.get("/api/v1/no-such-thing/")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"]["code"] == "not_found"


def test_unknown_api_urls_are_json_404_under_debug_too(api, settings):
    # Under DEBUG (ILLU_DEBUG=1) Django renders its HTML technical 404 instead of handler404.
    settings.DEBUG = True
    for client in (api, APIClient()):
        response = client.get("/api/v1/no-such-resource/")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"]["code"] == "not_found"
    assert "json" not in APIClient().get("/no-such-page/")["Content-Type"]


def test_unknown_urls_elsewhere_keep_django_pages():
    response = APIClient().get("/no-such-page/")
    assert response.status_code == 404 and "json" not in response["Content-Type"]


def test_server_errors_under_api_are_json():
    response = json_server_error(RequestFactory().get("/api/v1/images/"))
    assert response.status_code == 500
    assert b'"server_error"' in response.content


def test_a_too_big_body_caught_by_django_is_json_413():
    exc = RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")
    response = json_bad_request(RequestFactory().post("/api/v1/jobs/"), exc)
    assert response.status_code == 413 and b'"too_large"' in response.content


def test_a_crash_in_an_api_view_is_a_json_500(api, monkeypatch):
    from catalog import api as catalog_api

    def crash():
        raise RuntimeError("boom")

    monkeypatch.setattr(catalog_api, "enabled_styles", crash)
    api.raise_request_exception = False
    response = api.get("/api/v1/styles/")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"


def test_unauthenticated_requests_get_401_with_the_scheme(bob):
    response = APIClient().get("/api/v1/characters/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["error"]["code"] == "not_authenticated"
