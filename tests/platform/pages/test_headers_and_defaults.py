"""Headers and defaults: a Content-Security-Policy on every response (pages, the admin, Swagger
UI, the API, error pages) that no inline script or style in the project's templates needs
loosening; DEBUG off unless ILLU_DEBUG=1 (what `make run` uses), so a 404 is the plain page;
webhook URLs with credentials or port 0 refused."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import re

import pytest
from django.test import Client

from generation.models import GenerationJob
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.django_db

CSP = "Content-Security-Policy"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=\"|\son[a-z]+=\"", re.I)


def directives(response) -> dict[str, list[str]]:
    assert CSP in response, f"no {CSP} on {response.request['PATH_INFO']}"
    policy = {}
    for part in response[CSP].split(";"):
        name, *values = part.split()
        policy[name] = values
    return policy


def test_every_kind_of_response_carries_a_strict_policy(alice, staff):
    page = Client()
    page.force_login(alice)
    admin = Client()
    admin.force_login(staff)
    responses = [
        Client().get("/login/"),
        page.get("/gallery/"),
        page.get("/create/"),
        page.get("/no-such-page/"),
        Client().get("/api/docs/"),
        admin.get("/admin/"),
        page.get("/api/v1/jobs/", HTTP_ACCEPT="application/json"),
    ]
    for response in responses:
        policy = directives(response)
        assert policy["script-src"][0] == "'self'" and policy["style-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
        assert not any("unsafe" in value for value in policy["script-src"] + policy["style-src"])
    assert "data:" in directives(page.get("/gallery/"))["img-src"]  # live previews


def test_swagger_ui_has_no_inline_script_or_style():
    docs = Client().get("/api/docs/").content.decode()
    assert not INLINE_SCRIPT.search(docs) and not INLINE_STYLE.search(docs)
    script = re.search(r'<script src="([^"]*script=[^"]*)"', docs).group(1).replace("&amp;", "&")
    set_up = Client().get(script)
    assert set_up.status_code == 200 and "SwaggerUIBundle" in set_up.content.decode()


def test_the_queue_dashboards_inline_scripts_pass_by_their_hash(make_user):
    boss = Client()
    boss.force_login(make_user("root", staff=True))
    response = boss.get("/django-rq/queues/0/")
    inline = r"<script(?![^>]*\bsrc=)[^>]*>(.+?)</script>"
    bodies = re.findall(inline, response.content.decode(), re.S)
    assert bodies, "django-rq's jobs page has no inline script any more: drop the hashes"
    allowed = directives(response)["script-src"]
    for body in bodies:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed


def test_no_template_of_the_project_needs_inline_script_or_style():
    offenders = []
    for template in sorted((REPO_ROOT / "templates").rglob("*.html")):
        text = template.read_text()
        for pattern in (INLINE_SCRIPT, INLINE_STYLE):
            offenders += [f"{template.name}: {m.group()}" for m in pattern.finditer(text)]
    assert not offenders


def base_settings(monkeypatch, tmp_path, **env):
    """illuplatform.settings.base (what `make run` uses) loaded afresh under ``env``."""
    for name in ("ILLU_DEBUG", "DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ILLU_VAR_DIR", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = REPO_ROOT / "illuplatform" / "settings" / "base.py"
    spec = importlib.util.spec_from_file_location("base_settings_probe", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_debug_is_off_unless_asked_for_and_a_404_is_the_plain_page(monkeypatch, tmp_path):
    # Was: DEBUG on by default, so `make run` answered a 404 with every URL pattern.
    assert base_settings(monkeypatch, tmp_path).DEBUG is False
    assert base_settings(monkeypatch, tmp_path, ILLU_DEBUG="1").DEBUG is True
    missing = Client().get("/no-such-page/")  # the test settings' DEBUG is off too
    assert missing.status_code == 404 and "Not found" in missing.content.decode()
    assert "URLconf" not in missing.content.decode()
    assert Client().get("/static/css/site.css").status_code == 200  # still served


@pytest.mark.parametrize(
    "url",
    [
        "https://user:secret@127.0.0.1/hook",
        "https://token@127.0.0.1/hook",
        "https://127.0.0.1:0/hook",
    ],
)
def test_webhook_urls_with_credentials_or_port_0_are_refused(api, url):
    # Loopback is allowed in the test settings: only the credentials or the port refuse these.
    body = {"kind": "text", "prompt": "p", "width": 256, "height": 256, "webhook": url}
    response = api.post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 400, response.content
    assert "webhook" in response.json()["error"]["fields"]
    assert not GenerationJob.objects.exists()
