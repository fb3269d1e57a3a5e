"""Acting for another user is decided once (core.acting): a staff token that created a job or
a training for a user with ``user_id`` follows it up with the same ``user_id`` (list, detail,
cancel, events); without it the row is someone else's (404); a user who is not staff passing
``user_id`` gets 403, on the event streams too."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

pytestmark = pytest.mark.django_db


def streamed(response) -> str:
    async def read() -> str:
        return b"".join([chunk async for chunk in response.streaming_content]).decode()

    return async_to_sync(read)()


def follow_up(staff_api, api, collection: str, body: dict) -> None:
    created = staff_api.post(f"/api/v1/{collection}/", {**body, "user_id": "alice"}, format="json")
    assert created.status_code == 201, created.content
    row_id = created.json()["id"]
    url = f"/api/v1/{collection}/{row_id}/"
    assert api.get(url).status_code == 200  # alice's own
    assert staff_api.get(url).status_code == 404  # not the staff user's

    assert staff_api.get(f"{url}?user_id=alice").json()["id"] == row_id
    listed = staff_api.get(f"/api/v1/{collection}/?user_id=alice").json()["results"]
    assert [item["id"] for item in listed] == [row_id]
    cancelled = staff_api.post(f"{url}cancel/?user_id=alice")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    events = staff_api.get(f"{url}events/?user_id=alice")
    assert events.status_code == 200
    stream = streamed(events)
    assert stream.startswith("event: status") and "event: completed" in stream

    refused = api.get(f"{url}events/?user_id=alice")  # alice is no staff member
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    nobody = staff_api.get(f"{url}events/?user_id=nobody")
    assert nobody.status_code == 404 and "user_id" in nobody.json()["error"]["fields"]


def test_staff_follow_up_a_job_they_created_for_a_user(staff_api, api, alice):
    follow_up(staff_api, api, "jobs", {"kind": "text", "prompt": "for alice"})


def test_staff_follow_up_a_training_they_started_for_a_user(staff_api, api, alice_things):
    character = alice_things["character"]
    follow_up(staff_api, api, "trainings", {"character": str(character.id), "trigger_word": "luca"})
