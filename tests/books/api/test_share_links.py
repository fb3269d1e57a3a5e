"""Customer review through a link: no account; approve one page, ask for a change on another;
the owner sees both with the link's label; revoked and expired links are 404; the page shows
no other book, no prompt, no candidates or scores."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from books.models import ShareLink
from books.share_links import token_hash

pytestmark = pytest.mark.django_db


def share(api, book, label="Anna (customer)", days=14) -> dict:
    response = api.post(
        f"/api/v1/books/{book['id']}/share-links/",
        {"label": label, "expires_in_days": days},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def customer() -> Client:
    return Client(enforce_csrf_checks=True)


def decide(client: Client, url: str, page_id: str, decision: str, comment: str = ""):
    client.get(url)  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    data = {"page": page_id, "decision": decision, "comment": comment,
            "csrfmiddlewaretoken": token}  # fmt: skip
    return client.post(url, data)


def test_a_customer_reviews_without_an_account_and_the_owner_sees_it(api, book):
    link = share(api, book)
    assert set(link) >= {"id", "url", "expires_at"} and "/share/" in link["url"]
    token = link["url"].rstrip("/").rsplit("/", 1)[-1]
    assert len(token) >= 22  # 128 bits in URL-safe base64 at least
    stored = ShareLink.objects.get(pk=link["id"])
    assert stored.token_hash == token_hash(token) and token not in stored.token_hash

    browser = customer()
    page = browser.get(link["url"])
    assert page.status_code == 200
    assert page["X-Robots-Tag"].startswith("noindex") and page["Referrer-Policy"] == "no-referrer"
    html = page.content.decode()
    assert "Pip at sea" in html and "A whale said hello." in html
    for secret in ("a boat at dawn", "a whale,", "harbour", "identity", "candidate"):
        assert secret not in html

    first, second = book["pages"][0]["id"], book["pages"][1]["id"]
    assert decide(browser, link["url"], first, "approved").status_code == 302
    assert decide(browser, link["url"], second, "changes_requested", "").status_code == 400
    done = decide(browser, link["url"], second, "changes_requested", "Make the whale blue.")
    assert done.status_code == 302

    body = api.get(f"/api/v1/books/{book['id']}/").json()
    pages = {page["id"]: page for page in body["pages"]}
    assert pages[first]["review_status"] == "approved"
    assert pages[second]["review_status"] == "changes_requested"
    [approval] = pages[first]["comments"]
    [change] = pages[second]["comments"]
    assert approval["label"] == change["label"] == "Anna (customer)"
    assert approval["kind"] == "approved" and approval["created_at"]
    assert change["text"] == "Make the whale blue."


def test_a_post_without_the_csrf_token_is_refused(api, book):
    link = share(api, book)
    response = customer().post(
        link["url"], {"page": book["pages"][0]["id"], "decision": "approved"}
    )
    assert response.status_code == 403


def test_revoked_expired_and_unknown_links_are_404(api, book):
    revoked, expired = share(api, book, "Revoked"), share(api, book, "Expired")
    assert api.delete(f"/api/v1/books/{book['id']}/share-links/{revoked['id']}/").status_code == 204
    ShareLink.objects.filter(pk=expired["id"]).update(expires_at=timezone.now() - timedelta(1))
    for url in (revoked["url"], expired["url"], revoked["url"][:-5] + "abcd/"):
        response = customer().get(url)
        assert response.status_code == 404 and "Pip at sea" not in response.content.decode()
        assert response["X-Robots-Tag"].startswith("noindex")
    listed = api.get(f"/api/v1/books/{book['id']}/share-links/").json()
    assert {item["label"]: item["active"] for item in listed} == {
        "Revoked": False,
        "Expired": False,
    }


def test_the_page_holds_no_other_book(api, book):
    other = api.post("/api/v1/books/", {"title": "Secret second book"}, format="json").json()
    api.post(f"/api/v1/books/{other['id']}/pages/", {"prompt": "x", "text": "Other words"},
             format="json")  # fmt: skip
    link = share(api, book)
    html = customer().get(link["url"]).content.decode()
    assert "Secret second book" not in html and "Other words" not in html
    other_page = api.get(f"/api/v1/books/{other['id']}/").json()["pages"][0]["id"]
    assert decide(customer(), link["url"], other_page, "approved").status_code == 400
