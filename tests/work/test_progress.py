"""One progress rule for every reader: the API, the page and the event stream of a row show
the same progress, by the rule of ``work.progress`` (a stopped row keeps the step its worker
last reported; a queued one stands at its own account)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from generation.models import GenerationJob
from work.models import WorkStatus
from work.redis_channel import publish_event

pytestmark = pytest.mark.django_db

JOB = {"kind": "text", "prompt": "a lighthouse", "width": 256, "height": 256, "steps": 12}


def opening_progress(response) -> str:
    async def read() -> str:
        return b"".join([chunk async for chunk in response.streaming_content]).decode()

    stream = async_to_sync(read)()
    return stream.split("event: progress\ndata: ", 1)[1].split("\n", 1)[0]


def test_a_cancelled_job_shows_where_it_stopped_in_the_api_the_page_and_the_stream(
    api, browser_client, user
):
    created = api.post("/api/v1/jobs/", JOB, format="json").json()
    report = {"step": 5, "total": 12, "fraction": 0.4167, "batch": 0}
    publish_event(created["id"], "progress", report)
    queued = api.get(f"/api/v1/jobs/{created['id']}/").json()["progress"]
    assert queued == {"step": 0, "total": 12, "fraction": 0.0}  # an earlier report is no state

    GenerationJob.objects.filter(pk=created["id"]).update(status=WorkStatus.CANCELLED)
    progress = api.get(f"/api/v1/jobs/{created['id']}/").json()["progress"]
    assert progress == {"step": 5, "total": 12, "fraction": 0.4167}
    page = browser_client.get(f"/jobs/{created['id']}/").content.decode()
    assert "cancelled at step 5 of 12" in page
    stream = api.get(f"/api/v1/jobs/{created['id']}/events/")
    assert opening_progress(stream) == '{"step": 5, "total": 12, "fraction": 0.4167}'
