"""The exports admin lists each export's status, progress, format and book, links its file,
and changes nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_export_changelist_shows_progress_and_links_the_file(staff_client, rows):
    export = rows["bookexport"]
    export.pages_done = 1
    export.save()
    page = staff_client.get(reverse("admin:exports_bookexport_changelist")).content.decode()
    assert "Luca at sea" in page and "1 / 1 pages" in page
    # The link is minted per view (presigned): it names the file's key.
    assert ">download zip</a>" in page and export.file.name in page
    change = staff_client.get(reverse("admin:exports_bookexport_change", args=[export.pk]))
    assert b'name="status"' not in change.content  # read-only: no form fields
