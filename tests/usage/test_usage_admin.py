"""The admin's usage per user and month: the roll-up of the jobs the filters select."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from tests.usage.test_usage_api import ended_job

pytestmark = pytest.mark.django_db


def test_usage_per_user_and_month_rolls_up_the_filtered_jobs(staff_client, user, make_user):
    bob = make_user("bob")
    march, april = datetime(2025, 3, 5, tzinfo=UTC), datetime(2025, 4, 2, tzinfo=UTC)
    ended_job(user, finished_at=march, gpu_ms=1500, images=2)
    ended_job(user, finished_at=march, gpu_ms=500, images=1)
    ended_job(user, finished_at=april, gpu_ms=100, images=1)
    ended_job(bob, finished_at=march, gpu_ms=4000, images=4)
    url = reverse("admin:usage_monthlyusage_changelist")

    rows = staff_client.get(url).context["usage_rows"]
    shown = ("month", "username", "jobs", "images", "gpu_seconds")
    assert [tuple(row[key] for key in shown) for row in rows] == [
        ("2025-04", "alice", 1, 1, 0.1),
        ("2025-03", "bob", 1, 4, 4.0),
        ("2025-03", "alice", 2, 3, 2.0),
    ]  # fmt: skip
    in_march = staff_client.get(url, {"finished_at__year": 2025, "finished_at__month": 3})
    assert [r["username"] for r in in_march.context["usage_rows"]] == ["bob", "alice"]
    page = in_march.content.decode()
    assert "usage-per-user-month" in page and "4.0" in page
