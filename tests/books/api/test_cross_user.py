"""Every book, page and share-link endpoint is a 404 to another user, for every verb, and
changes nothing."""

from __future__ import annotations

import pytest

from books.models import Book, BookPage, ShareLink

pytestmark = pytest.mark.django_db


def test_another_user_gets_404_everywhere(api, book, bob_api):
    link = api.post(f"/api/v1/books/{book['id']}/share-links/", {"label": "A"}, format="json")
    link_id = link.json()["id"]
    b = f"/api/v1/books/{book['id']}/"
    p = b + f"pages/{book['pages'][0]['id']}/"
    calls = [
        ("get", b, None),
        ("patch", b, {"title": "mine"}),
        ("delete", b, None),
        ("get", b + "events/", None),
        ("post", b + "generate/", {}),
        ("post", b + "pages/", {"prompt": "x"}),
        ("post", b + "pages/reorder/", {"order": [page["id"] for page in book["pages"]]}),
        ("patch", p, {"text": "mine"}),
        ("delete", p, None),
        ("post", p + "select/", {"image": "00000000-0000-0000-0000-000000000000"}),
        ("post", p + "regenerate/", {}),
        ("get", b + "share-links/", None),
        ("post", b + "share-links/", {"label": "mine"}),
        ("delete", b + f"share-links/{link_id}/", None),
    ]
    for verb, url, data in calls:
        response = getattr(bob_api, verb)(url, data, format="json")
        assert response.status_code == 404, (verb, url, response.status_code)
    assert bob_api.get("/api/v1/books/").json()["results"] == []
    assert Book.objects.get().title == "Pip at sea" and BookPage.objects.count() == 3
    assert ShareLink.objects.get().revoked_at is None
