"""Training pages and admin through Django's test client: start from a character page, watch
(progress, loss plot, samples, the LoRA to use), another user's run is a 404; the admin
shows runs and publishes a trained LoRA."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from catalog.models import Lora
from characters.services import character_create, reference_add
from tests import photos
from tests.fixtures.api import lora_upload
from training.models import TrainingRun
from training.services import training_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def character(user):
    character = character_create(owner=user, name="Mira")
    reference_add(character=character, upload=photos.upload_of(photos.astronaut()))
    return character


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def finished_run(user, character) -> TrainingRun:
    from catalog.services import lora_register

    lora, _ = lora_register(
        upload=lora_upload(3), slug="mira-abc", name="Mira LoRA", type="character",
        owner=user, is_public=False,
    )  # fmt: skip
    run = training_create(owner=user, trigger_word="mira", character_id=str(character.id))
    key = default_storage.save(f"trainings/{run.id}/samples/1.png", ContentFile(b"png"))
    TrainingRun.objects.filter(pk=run.pk).update(
        status="succeeded", lora=lora, loss_history=[1.0, 0.8, 0.9, 0.5],
        initial_loss=1.0, final_loss=0.5, samples=[{"step": 2, "prompt": "mira", "key": key}],
    )  # fmt: skip
    run.refresh_from_db()
    return run


def test_character_page_starts_a_training(user, character, empty_queues):
    client = logged_in(user)
    page = client.get(f"/characters/{character.id}/")
    assert f'action="/characters/{character.id}/train/"' in page.content.decode()
    response = client.post(
        f"/characters/{character.id}/train/", {"trigger_word": "mira_person", "steps": "7"}
    )
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/trainings/{run.id}/"
    assert run.params["steps"] == 7 and run.character == character
    watch = client.get(f"/trainings/{run.id}/").content.decode()
    assert f'data-events-url="/api/v1/trainings/{run.id}/events/"' in watch
    assert "Cancel this training" in watch


def test_bad_trigger_word_is_reported_and_nothing_starts(user, character):
    client = logged_in(user)
    response = client.post(f"/characters/{character.id}/train/", {"trigger_word": "no/slash"})
    assert response.status_code == 302 and response["Location"] == f"/characters/{character.id}/"
    assert "trigger_word" in client.get(response["Location"]).content.decode()
    assert not TrainingRun.objects.exists()


def test_finished_run_shows_loss_plot_samples_and_the_lora(user, character, empty_queues):
    run = finished_run(user, character)
    html = logged_in(user).get(f"/trainings/{run.id}/").content.decode()
    assert '<polyline id="loss-line"' in html and 'points="0.0,0.0' in html
    assert "Sample at step 2: mira" in html
    assert '<code id="trained-lora">mira-abc</code>' in html
    assert "mira-abc" in logged_in(user).get("/trainings/").content.decode()


def test_another_users_run_is_404(user, make_user, character, empty_queues):
    run = finished_run(user, character)
    other = logged_in(make_user("bob"))
    assert other.get(f"/trainings/{run.id}/").status_code == 404
    assert other.post(f"/trainings/{run.id}/cancel/").status_code == 404
    assert (
        other.post(f"/characters/{character.id}/train/", {"trigger_word": "x"}).status_code == 404
    )


def test_admin_lists_runs_and_publishes_a_trained_lora(user, make_user, character, empty_queues):
    run = finished_run(user, character)
    staff = make_user("curator", staff=True)
    staff.is_superuser = True
    staff.save()
    client = logged_in(staff)
    listing = client.get("/admin/training/trainingrun/").content.decode()
    assert "Mira LoRA" in listing and "succeeded" in listing
    detail = client.get(f"/admin/training/trainingrun/{run.id}/change/").content.decode()
    assert "<polyline" in detail and "step 2" in detail
    response = client.post(
        "/admin/training/trainingrun/",
        {"action": "publish_lora", "_selected_action": [str(run.id)]},
    )
    assert response.status_code == 302
    assert Lora.objects.get(slug="mira-abc").is_public
