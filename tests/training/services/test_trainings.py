"""Training services: success registers and optionally attaches the LoRA; late callbacks never
overwrite an ended run; lost runs go back to the queue until the attempt limit."""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from catalog.services import lora_register
from characters.models import CharacterLora
from characters.services import character_create, reference_add
from tests import photos
from tests.fixtures.api import lora_upload
from training.models import TrainingRun
from training.services import (
    training_create,
    training_mark_succeeded,
    training_record_checkpoint,
)
from training.work_kind import TRAININGS
from work.lifecycle import work_claim, work_end_cancelled, work_schedule_retry

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
    assert work_claim(TRAININGS, row_id=str(run.id), worker_name="w1")
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
    assert not work_end_cancelled(TRAININGS, row_id=str(run.id))
    assert (
        training_record_checkpoint(run_id=str(run.id), step=2, key="k", samples=[], loss_history=[])
        is None
    )


def test_lost_runs_requeue_then_fail_after_the_attempt_limit(run, settings):
    settings.ILLU_JOB_MAX_ATTEMPTS = 2
    for attempt in (1, 2):
        assert work_claim(TRAININGS, row_id=str(run.id), worker_name=f"w{attempt}")
        status = work_schedule_retry(
            TRAININGS, row_id=str(run.id), code="worker_lost", message="gone."
        )
        assert status == ("queued" if attempt == 1 else "failed")
    run.refresh_from_db()
    assert run.status == "failed" and run.error["code"] == "worker_lost" and run.attempts == 2


def test_a_cancelled_run_never_starts(run):
    from training.services import training_cancel

    training_cancel(run=run)
    assert not work_claim(TRAININGS, row_id=str(run.id), worker_name="w1")
    assert TrainingRun.objects.get(pk=run.pk).status == "cancelled"


def test_reconcile_requeues_a_run_whose_worker_is_gone(run, settings):
    import io
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from training.work_kind import reconcile_trainings

    settings.ILLU_RECONCILE_GRACE_SECONDS = 0
    settings.ILLU_RETRY_BACKOFF_SECONDS = 0
    assert work_claim(TRAININGS, row_id=str(run.id), worker_name="vanished-worker")
    TrainingRun.objects.filter(pk=run.pk).update(
        started_at=timezone.now() - timedelta(minutes=5), checkpoint_step=20
    )
    output = io.StringIO()
    call_command("reconcile_trainings", "--dry-run", stdout=output)
    assert f"would be requeued lost: 1 {run.id}" in output.getvalue()
    assert TrainingRun.objects.get(pk=run.pk).status == "running"  # a dry run changes nothing
    report = reconcile_trainings()
    assert report.requeued_lost == [str(run.id)] and report.reenqueued == [str(run.id)]
    requeued = TrainingRun.objects.get(pk=run.pk)
    assert requeued.status == "queued" and requeued.checkpoint_step == 20
    assert "resumes from the checkpoint at step 20" in requeued.error["message"]


def test_a_paused_run_waits_queued_with_its_attempt_given_back_and_says_where(
    run, api, tmp_path, django_capture_on_commit_callbacks
):
    from gpu_worker.engine.training.trainer import TrainingPaused
    from gpu_worker.failures import settle
    from work.redis_channel import events_channel
    from work.redis_queue import get_queue, get_redis

    assert work_claim(TRAININGS, row_id=str(run.id), worker_name="w1")
    get_queue("training").remove(str(run.id))  # the claimed run's entry is RQ's to end
    TrainingRun.objects.filter(pk=run.pk).update(checkpoint_step=7, loss_history=[0.9] * 7)
    events = get_redis().pubsub(ignore_subscribe_messages=True)
    events.subscribe(events_channel(str(run.id)))
    with django_capture_on_commit_callbacks(execute=True):
        outcome = settle(TRAININGS, str(run.id), TrainingPaused(7, 60, tmp_path / "c"))

    assert outcome == {"status": "queued", "paused_at_step": 7}
    body = api.get(f"/api/v1/trainings/{run.id}/").json()
    assert body["status"] == "queued" and body["attempts"] == 0  # not a failed attempt
    assert body["progress"]["step"] == 7 and body["progress"]["paused"] is True
    assert body["error"]["code"] == "paused" and "step 7 of 60" in body["error"]["message"]
    assert str(run.id) in get_queue("training").job_ids  # back on its queue, to resume
    message = None
    for _ in range(20):  # the subscription's confirmation comes first, ignored
        message = message or events.get_message(timeout=0.5)
    events.close()
    status = json.loads(message["data"])
    assert status["event"] == "status"
    assert status["data"]["status"] == "queued" and status["data"]["paused"] is True
    assert status["data"]["step"] == 7

    assert work_claim(TRAININGS, row_id=str(run.id), worker_name="w2")  # resumed
    resumed = api.get(f"/api/v1/trainings/{run.id}/").json()
    assert resumed["attempts"] == 1 and resumed["error"] is None
    assert resumed["progress"]["paused"] is False
