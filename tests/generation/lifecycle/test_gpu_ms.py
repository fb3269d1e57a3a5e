"""Every job records the engine time its images took (``gpu_ms``): a batch's time is shared
among its members by image count, so the shares add up to the pass's time; the job API shows
it and the month's usage adds it up. A real GPU worker process on the demo model."""

from __future__ import annotations

import pytest

from generation.models import GenerationJob
from generation.services import job_create
from tests.conftest import client_for
from usage.months import Month

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SMALL = {"width": 256, "height": 256, "steps": 2}


def test_a_batch_shares_its_engine_time_among_its_jobs_by_images(
    make_user, empty_queues, run_worker_burst
):
    alice, bob = make_user(), make_user()
    jobs = [
        job_create(owner=owner, kind="text", params={**SMALL, **params})[0]
        for owner, params in (
            (alice, {"prompt": "a lighthouse", "seed": 1, "num_images": 2}),
            (bob, {"prompt": "a fox", "seed": 2}),
            (alice, {"prompt": "a castle", "seed": 3}),
        )
    ]
    run_worker_burst()

    rows = [GenerationJob.objects.get(pk=job.pk) for job in jobs]
    assert all(row.status == "succeeded" for row in rows)
    assert {row.timings["batch_size"] for row in rows} == {4}  # one pass of 4 images
    timings = rows[0].timings
    pass_ms = timings["load_ms"] + timings["inference_ms"]
    assert pass_ms > 0
    assert sum(row.gpu_ms for row in rows) == pass_ms
    # Two images of four: half the pass, to the millisecond's rounding.
    assert abs(rows[0].gpu_ms - pass_ms / 2) <= 1
    assert abs(rows[1].gpu_ms - pass_ms / 4) <= 1

    detail = client_for(alice).get(f"/api/v1/jobs/{rows[0].id}/").json()
    assert detail["gpu_ms"] == rows[0].gpu_ms
    usage = client_for(alice).get("/api/v1/usage/", {"month": str(Month.current())}).json()
    assert usage["jobs"] == 2 and usage["images"] == 3
    assert usage["gpu_seconds"] == round((rows[0].gpu_ms + rows[2].gpu_ms) / 1000, 3)
