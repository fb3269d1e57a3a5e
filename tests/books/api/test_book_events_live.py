"""The book's event stream against a live uvicorn, as a client sees it: revoking the token
that opened it ends the stream with an ``error`` event ``not_authenticated`` (the stream guard
re-checks the credential, as for job streams)."""

from __future__ import annotations

import httpx
import pytest

from accounts.services import api_token_revoke
from books.services import book_create, page_create
from tests.work.test_long_waits_live import (  # noqa: F401 (the module's live server)
    long_wait_server,
    read_until_end,
    user_with_token,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_revoking_the_token_ends_an_open_book_stream(long_wait_server, make_user):  # noqa: F811
    base, _ = long_wait_server
    alice, headers = user_with_token(make_user, "reader")
    book = book_create(owner=alice, title="Pip")
    page_create(book=book, prompt="a whale")  # no image yet: the stream stays open
    url = f"{base}/api/v1/books/{book.id}/events/"

    with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(60)) as stream:
        assert stream.status_code == 200
        api_token_revoke(token=alice.api_tokens.get(name="stream"))
        events = read_until_end(stream)

    assert len(events) == 1
    name, data = events[0]
    assert name == "error" and data["code"] == "not_authenticated"
