"""GET /api/v1/usage/: a user's images, jobs and engine time in a month, from the job rows;
the month is checked; every user sees only their own."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from generation.models import GenerationJob
from tests.conftest import client_for
from usage.months import Month
from usage.selectors import usage_by_user_and_month, usage_by_user_class

pytestmark = pytest.mark.django_db


def ended_job(owner, *, kind="text", finished_at, gpu_ms, images=1, status="succeeded"):
    return GenerationJob.objects.create(
        owner=owner,
        kind=kind,
        status=status,
        finished_at=finished_at,
        gpu_ms=gpu_ms,
        generated_count=images,
        params={},
    )


def at(day: int, month: int = 3, hour: int = 12) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


def test_the_month_roll_up_matches_the_jobs_that_ended_in_it(user, api, make_user):
    march = [
        ended_job(user, finished_at=at(1, hour=0), gpu_ms=1500, images=4),
        ended_job(user, finished_at=at(31, hour=23), gpu_ms=250, images=2, kind="upscale"),
        ended_job(user, finished_at=at(15), gpu_ms=1001, images=0, status="cancelled"),
    ]
    ended_job(user, finished_at=at(1, month=4, hour=0), gpu_ms=9999, images=8)  # April
    ended_job(user, finished_at=at(28, month=2, hour=23), gpu_ms=7777, images=8)  # February
    GenerationJob.objects.create(owner=user, kind="text", status="running", params={})
    ended_job(make_user("bob"), finished_at=at(10), gpu_ms=5000, images=3)  # someone else's

    body = api.get("/api/v1/usage/", {"month": "2025-03"}).json()

    assert body["jobs"] == len(march) == 3
    assert body["images"] == sum(job.generated_count for job in march) == 6
    assert body["gpu_seconds"] == sum(job.gpu_ms for job in march) / 1000 == 2.751
    assert body["by_kind"] == {
        "text": {"images": 4, "jobs": 2, "gpu_seconds": 2.501},
        "upscale": {"images": 2, "jobs": 1, "gpu_seconds": 0.25},
    }
    assert body["month"] == "2025-03"


def test_without_a_month_it_is_the_current_one(user, api):
    from django.utils import timezone

    ended_job(user, finished_at=timezone.now(), gpu_ms=1200, images=2)
    body = api.get("/api/v1/usage/").json()
    assert body["month"] == str(Month.current())
    assert (body["jobs"], body["images"], body["gpu_seconds"]) == (1, 2, 1.2)


@pytest.mark.parametrize("month", ["2025-13", "2025-00", "2025-3", "March", "2025-03-01", ""])
def test_a_bad_month_is_a_400_naming_month(api, month):
    response = api.get("/api/v1/usage/", {"month": month})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "month" in response.json()["error"]["fields"]


def test_each_user_sees_only_their_own_usage(user, make_user):
    bob = make_user("bob")
    ended_job(user, finished_at=at(5), gpu_ms=3000, images=5)
    body = client_for(bob).get("/api/v1/usage/", {"month": "2025-03"}).json()
    assert (body["jobs"], body["images"], body["gpu_seconds"], body["by_kind"]) == (0, 0, 0, {})


def test_usage_needs_a_token(client):
    assert client.get("/api/v1/usage/").status_code == 401


def test_per_user_and_month_rows_and_user_classes(user, make_user):
    staff = make_user("ops", staff=True)
    ended_job(user, finished_at=at(5), gpu_ms=3000, images=5)
    ended_job(user, finished_at=at(6), gpu_ms=1000, images=1)
    ended_job(user, finished_at=at(5, month=4), gpu_ms=10, images=1)
    ended_job(staff, finished_at=at(7), gpu_ms=2000, images=2)

    rows = usage_by_user_and_month()
    assert [(r["username"], r["month"], r["jobs"], r["gpu_seconds"]) for r in rows] == [
        ("alice", "2025-04", 1, 0.01),
        ("alice", "2025-03", 2, 4.0),
        ("ops", "2025-03", 1, 2.0),
    ]
    classes = usage_by_user_class()
    assert classes["staff"] == {"images": 2, "jobs": 1, "gpu_seconds": 2.0}
    assert classes["standard"] == {"images": 7, "jobs": 3, "gpu_seconds": 4.01}
    assert classes["priority"] == {"images": 0, "jobs": 0, "gpu_seconds": 0.0}
