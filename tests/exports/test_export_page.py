"""The owner's book page: the export buttons start an export, which the page then lists with
its status and, once done, a download link; another user's book is a 404."""

from __future__ import annotations

import pytest

from exports.models import BookExport
from exports.tasks import run_export
from tests.exports.books import illustrated_book
from tests.exports.test_exports import PAGES

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_book_page_starts_an_export_and_links_its_file(client, user, make_user, empty_queues):
    book = illustrated_book(user, pages=PAGES[:1])
    client.force_login(user)
    page = client.get(f"/books/{book.id}/").content.decode()
    assert 'id="export-pdf"' in page and "GPU seconds" in page

    response = client.post(f"/books/{book.id}/export/", {"format": "zip"})
    assert response.status_code == 302
    export = BookExport.objects.get(book=book)
    assert export.format == "zip" and export.status == "queued"
    run_export(str(export.id))
    page = client.get(f"/books/{book.id}/").content.decode()
    assert "succeeded" in page and "export-download" in page

    client.force_login(make_user("bob"))
    assert client.post(f"/books/{book.id}/export/", {"format": "pdf"}).status_code == 404
    assert BookExport.objects.count() == 1
