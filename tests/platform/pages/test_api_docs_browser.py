"""Swagger UI at /api/docs/ renders in a real browser from locally served assets, under the
Content-Security-Policy (nothing refused)."""

import pytest

from tests.fixtures.pages import screenshot, watch_csp

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_api_docs_render_every_operation(browser, asgi_server):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    refused: list[str] = []
    watch_csp(page, refused)
    page.goto(f"{asgi_server}/api/docs/")
    page.wait_for_selector(".opblock", timeout=30000)
    paths = set(page.locator(".opblock-summary-path").all_inner_texts())
    assert {"/api/v1/jobs/", "/api/v1/jobs/{job_id}/cancel/", "/v1/images/memory"} <= {
        path.replace("\u200b", "") for path in paths
    }
    assert page.locator(".opblock").count() >= 30
    screenshot(page, "api-docs")
    page.close()
    assert not refused, f"refused under the Content-Security-Policy: {refused}"
