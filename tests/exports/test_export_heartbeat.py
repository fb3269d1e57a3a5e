"""A running export beats under its own prefix while it runs: the shared reconciler leaves an
export whose process is alive and puts back one whose heartbeat is gone; GPU worker counts
never see export workers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from exports.heartbeat import export_heartbeat, worker_name
from exports.models import BookExport
from exports.work_kind import EXPORTS, reconcile_exports
from tests.exports.books import illustrated_book
from work.lifecycle import work_claim
from work.workers import live_workers

pytestmark = pytest.mark.django_db(transaction=True)


def test_reconcile_leaves_a_beating_export_and_puts_back_a_lost_one(user, empty_queues):
    book = illustrated_book(user, pages=[("a boat", "One.")])
    export = BookExport.objects.create(owner=user, book=book, format="zip")
    assert work_claim(EXPORTS, row_id=str(export.id), worker_name=worker_name())
    # Past the reconciler's grace period, as an export that has run a while.
    BookExport.objects.filter(pk=export.pk).update(
        started_at=timezone.now() - timedelta(minutes=10)
    )

    with export_heartbeat(str(export.id)):
        assert live_workers() == []  # GPU workers only: queue position, health, metrics
        report = reconcile_exports()
        assert report.total() == 0
        assert BookExport.objects.get(pk=export.pk).status == "running"

    # Its process is gone (here: the beat stopped and its hash went with it).
    report = reconcile_exports()
    assert report.requeued_lost == [str(export.id)]
    lost = BookExport.objects.get(pk=export.pk)
    assert lost.status == "queued" and lost.error["code"] == "worker_lost"
