"""Training services: success registers and optionally attaches the LoRA; late callbacks never
overwrite an ended run; lost runs go back to the queue until the attempt limit."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from characters.models import CharacterLora
from characters.services import character_create, lora_register, reference_add
from tests import photos
from tests.api.conftest import lora_upload
from training.models import TrainingRun
from training.services import (
    training_create,
    training_mark_cancelled,
    training_mark_running,
    training_mark_succeeded,
    training_record_checkpoint,
    training_retry_later,
)

pytestmark = pytest.mark.django_db

MANIFEST = {"loss_history": [1.0, 0.5], "initial_loss": 1.0, "final_loss": 0.5, "steps": 2}


@pytest.fixture
def run(user, empty_queues):
    character = character_create(owner=user, name="Mira")
    reference_add(character=character, upload=photos.upload_of(photos.astronaut()))
    return training_create(
        owner=user, trigger_word="mira", character_id=str(character.id), attach_to_character=True
    )


@pytest.fixture
def lora(user):
    registered, _ = lora_register(
        upload=lora_upload(5), slug="mira-1", name="Mira", type="character", owner=user,
        is_public=False,
    )  # fmt: skip
    return registered


def test_success_attaches_the_lora_to_the_character(run, lora, django_capture_on_commit_callbacks):
    assert training_mark_running(run_id=str(run.id), worker_name="w1")
    key = default_storage.save(f"trainings/{run.id}/checkpoint.safetensors", ContentFile(b"x"))
    assert training_record_checkpoint(
        run_id=str(run.id), step=1, key=key, samples=[], loss_history=[1.0]
    ) == ""  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        assert training_mark_succeeded(
            run_id=str(run.id), lora=lora, manifest=MANIFEST, samples=[], attach=True
        )
    run.refresh_from_db()
    assert run.status == "succeeded" and run.lora == lora and run.final_loss == 0.5
    assert CharacterLora.objects.filter(character=run.character, lora=lora).exists()
    assert not default_storage.exists(key)  # the checkpoint is not kept once the LoRA is
    # A late callback changes nothing.
    assert not training_mark_cancelled(run_id=str(run.id))
    assert (
        training_record_checkpoint(run_id=str(run.id), step=2, key="k", samples=[], loss_history=[])
        is None
    )


def test_lost_runs_requeue_then_fail_after_the_attempt_limit(run, settings):
    settings.ILLU_JOB_MAX_ATTEMPTS = 2
    for attempt in (1, 2):
        assert training_mark_running(run_id=str(run.id), worker_name=f"w{attempt}")
        status = training_retry_later(run_id=str(run.id), code="worker_lost", message="gone.")
        assert status == ("queued" if attempt == 1 else "failed")
    run.refresh_from_db()
    assert run.status == "failed" and run.error["code"] == "worker_lost" and run.attempts == 2


def test_a_cancelled_run_never_starts(run):
    from training.services import training_cancel

    training_cancel(run=run)
    assert not training_mark_running(run_id=str(run.id), worker_name="w1")
    assert TrainingRun.objects.get(pk=run.pk).status == "cancelled"
