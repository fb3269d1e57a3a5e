"""The pages through Django's test client: who sees what, the create form's errors (the API's
rules, beside each field), and the image and avatar actions' effects."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

SMALL = {"kind": "text", "prompt": "a lighthouse", "width": "256", "height": "256", "steps": "2"}


@pytest.fixture
def browser_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def field_block(html: str, name: str) -> str:
    """The markup of one field's block (label, input, help, errors)."""
    match = re.search(rf'<div class="field[^"]*" id="field-{name}">(.*?)\n</div>', html, re.S)
    assert match, f"no field {name} on the page"
    return match.group(1)


def test_static_files_are_served(client):
    response = client.get("/static/css/site.css")
    assert response.status_code == 200
    assert b"focus-visible" in b"".join(response.streaming_content)
