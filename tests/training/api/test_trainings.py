"""Training runs over the API: create with defaults, bad values name their field and store
nothing, quotas, ownership (404 for everyone else), cancel and delete."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from characters.services import character_create, reference_add
from generation.uploads import upload_create
from tests import photos
from tests.conftest import client_for
from tests.fixtures.api import image_file
from training.models import TrainingRun
from training.params import DEMO_DEFAULTS
from training.work_kind import TRAINING_QUEUE
from work.redis_queue import get_queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def character(user):
    """A character with one reference, a small one: these tests need a source to train on, not
    a face in it (a 512 px photo's face detection and PNG encoding cost about 0.4 s a test)."""
    character = character_create(owner=user, name="Mira")
    small = photos.astronaut().resize((64, 64))
    reference_add(character=character, upload=photos.upload_of(small))
    return character


@pytest.fixture
def bob_api(make_user):
    return client_for(make_user("bob"))


@pytest.fixture
def training_queue(empty_queues):
    return get_queue(TRAINING_QUEUE)


def create(api, **body):
    return api.post("/api/v1/trainings/", body, format="json")


def test_create_from_a_character_uses_demo_defaults_and_enqueues_the_id(
    api, character, training_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = create(api, character=str(character.id), trigger_word="mira_person")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "queued" and body["lora"] is None and body["error"] is None
    assert body["progress"] == {
        "step": 0, "total": DEMO_DEFAULTS["steps"], "fraction": 0.0, "loss": None, "eta_s": None,
        "paused": False,
    }  # fmt: skip
    assert body["lora_type"] == "character" and body["character"] == str(character.id)
    params = body["params"]
    assert params["rank"] == DEMO_DEFAULTS["rank"] and isinstance(params["seed"], int)
    assert params["sample_prompts"] == ["a portrait of mira_person, reading a book in a garden"]
    assert body["images"][0]["caption"] == "a photo of mira_person"
    assert body["urls"]["events"].endswith(f"/api/v1/trainings/{body['id']}/events/")
    assert training_queue.job_ids == [body["id"]]
    job = training_queue.fetch_job(body["id"])
    assert job.args == [body["id"]]


def test_create_from_uploads_with_captions(api, user, empty_queues):
    uploads = [upload_create(owner=user, upload=image_file()) for _ in range(2)]
    response = create(
        api,
        images=[str(u.id) for u in uploads],
        captions=["a cat, zq style", "a dog, zq style"],
        trigger_word="zq",
        steps=5,
        rank=8,
        seed=3,
        naming="kohya",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["lora_type"] == "style"
    assert [i["caption"] for i in body["images"]] == ["a cat, zq style", "a dog, zq style"]
    assert body["params"]["steps"] == 5 and body["params"]["seed"] == 3
    assert body["params"]["naming"] == "kohya"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"character": None}, "character"),
        ({"character": "not-a-uuid", "trigger_word": "x"}, "character"),
        ({"steps": 0}, "steps"),
        ({"steps": "5"}, "steps"),
        ({"steps": 10**6}, "steps"),
        ({"rank": 0}, "rank"),
        ({"learning_rate": 2.0}, "learning_rate"),
        ({"resolution": 1000}, "resolution"),
        ({"batch_size": 99}, "batch_size"),
        ({"trigger_word": "bad/word"}, "trigger_word"),
        ({"trigger_word": ""}, "trigger_word"),
        ({"caption_template": "no trigger"}, "caption_template"),
        ({"lora_type": "sculpture"}, "lora_type"),
        ({"naming": "a1111"}, "naming"),
        ({"sample_prompts": ["a"] * 9}, "sample_prompts"),
        ({"colour": "red"}, "colour"),
        ({"images": ["00000000-0000-0000-0000-000000000000"]}, "images"),
        ({"captions": ["one", "two"]}, "captions"),
    ],
)
def test_bad_values_are_400_naming_the_field(api, character, body, field):
    payload = {"character": str(character.id), "trigger_word": "mira", **body}
    if "images" in body or body.get("character", "") is None:
        payload.pop("character")  # no source at all, or uploads instead
    response = create(api, **payload)
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"], response.json()
    assert not TrainingRun.objects.exists()


def test_another_users_character_is_unknown(bob_api, character):
    response = create(bob_api, character=str(character.id), trigger_word="mira")
    assert response.status_code == 400
    assert "character" in response.json()["error"]["fields"]


def test_quotas_concurrent_and_monthly(api, character, settings, empty_queues):
    settings.ILLU_TRAINING_MAX_CONCURRENT = 1
    first = create(api, character=str(character.id), trigger_word="mira")
    assert first.status_code == 201
    second = create(api, character=str(character.id), trigger_word="mira")
    assert second.status_code == 429 and second.json()["error"]["code"] == "quota_exceeded"
    assert "Retry-After" in second

    settings.ILLU_TRAINING_MAX_CONCURRENT = 5
    settings.ILLU_TRAINING_MONTHLY_LIMIT = 1
    TrainingRun.objects.update(status="succeeded")
    monthly = create(api, character=str(character.id), trigger_word="mira")
    assert monthly.status_code == 429 and "month" in monthly.json()["error"]["message"]
    assert TrainingRun.objects.count() == 1


def test_ownership_get_cancel_delete_events_are_404(api, bob_api, character, empty_queues):
    run_id = create(api, character=str(character.id), trigger_word="mira").json()["id"]
    for response in (
        bob_api.get(f"/api/v1/trainings/{run_id}/"),
        bob_api.post(f"/api/v1/trainings/{run_id}/cancel/"),
        bob_api.delete(f"/api/v1/trainings/{run_id}/"),
        bob_api.get(f"/api/v1/trainings/{run_id}/events/"),
    ):
        assert response.status_code == 404
    assert bob_api.get("/api/v1/trainings/").json()["count"] == 0
    assert api.get("/api/v1/trainings/").json()["count"] == 1
    assert TrainingRun.objects.get(pk=run_id).status == "queued"


def test_cancel_a_queued_run_then_409(api, character, training_queue):
    run_id = create(api, character=str(character.id), trigger_word="mira").json()["id"]
    cancelled = api.post(f"/api/v1/trainings/{run_id}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert run_id not in training_queue.job_ids
    again = api.post(f"/api/v1/trainings/{run_id}/cancel/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_delete_removes_the_row_and_its_stored_files(
    api, character, empty_queues, django_capture_on_commit_callbacks
):
    run_id = create(api, character=str(character.id), trigger_word="mira").json()["id"]
    key = default_storage.save(f"trainings/{run_id}/sample.png", ContentFile(b"png"))
    TrainingRun.objects.filter(pk=run_id).update(
        samples=[{"step": 1, "prompt": "p", "key": key}], status="failed"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"/api/v1/trainings/{run_id}/")
    assert response.status_code == 204
    assert not TrainingRun.objects.filter(pk=run_id).exists()
    assert not default_storage.exists(key)


def test_list_filters_by_status(api, character, empty_queues):
    create(api, character=str(character.id), trigger_word="mira")
    assert api.get("/api/v1/trainings/?status=queued").json()["count"] == 1
    assert api.get("/api/v1/trainings/?status=running").json()["count"] == 0
    assert api.get("/api/v1/trainings/?status=nope").status_code == 400


def test_a_training_started_during_a_redis_outage_is_stored_once_and_enqueued_later(
    api, character, training_queue, redis_down, settings, django_capture_on_commit_callbacks
):
    # Redis is down when the run commits: still a 201 (nothing for the client to retry, so no
    # second run), and the reconciler enqueues the stored run once Redis answers again.
    with django_capture_on_commit_callbacks(execute=True):
        response = create(api, character=str(character.id), trigger_word="mira_person")
    assert response.status_code == 201, response.json()
    run = TrainingRun.objects.get()
    assert str(run.id) == response.json()["id"] and run.status == "queued"

    redis_down()  # Redis answers again
    from training.work_kind import reconcile_trainings

    settings.ILLU_RECONCILE_GRACE_SECONDS = 0
    assert reconcile_trainings().reenqueued == [str(run.id)]
    assert training_queue.job_ids == [str(run.id)]
