"""The pages through Django's test client: who sees what, the create form's errors (the API's
rules, beside each field), and the image and avatar actions' effects."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_static_files_are_served(client):
    response = client.get("/static/css/site.css")
    assert response.status_code == 200
    assert b"focus-visible" in b"".join(response.streaming_content)
