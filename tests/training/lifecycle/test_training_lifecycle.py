"""LoRA training with real worker processes, Redis, database and S3: a run trains (its events
streamed over SSE), lands in the registry and changes a character job's pixels; cancel keeps
nothing; a killed worker's run resumes from its checkpoint on the next worker and ends once; an
image job goes before a training."""

from __future__ import annotations

import io
import json
import time
import uuid

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image

from catalog.models import Lora
from characters.services import character_create, reference_add
from gpu_worker.engine.training.trainer import read_training_manifest
from gpu_worker.engine.weights import read_safetensors_header
from tests import photos
from tests.conftest import client_for
from tests.fixtures.api import stored_keys
from tests.fixtures.lifecycle import stop_workers, wait_for
from tests.training.lifecycle.held_trainer import HOLD_AT_STEP, start_held_trainer
from training.models import TrainingRun
from training.work_kind import reconcile_trainings
from work.workers import live_workers

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def character(user):
    character = character_create(owner=user, name="Mira")
    reference_add(character=character, upload=photos.upload_of(photos.astronaut()))
    return character


def start_training(api, character, **body) -> dict:
    payload = {"character": str(character.id), "trigger_word": "mira_person", "seed": 11}
    response = api.post("/api/v1/trainings/", {**payload, **body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def training(api, run_id: str) -> dict:
    return api.get(f"/api/v1/trainings/{run_id}/").json()


def job_status(api, job_id: str) -> str:
    return api.get(f"/api/v1/jobs/{job_id}/").json()["status"]


def job_pixels(api, job_id: str) -> np.ndarray:
    job = api.get(f"/api/v1/jobs/{job_id}/").json()
    assert job["status"] == "succeeded", job["error"]
    from generation.models import GeneratedImage

    image = GeneratedImage.objects.get(pk=job["images"][0]["id"])
    with default_storage.open(image.file.name, "rb") as handle:
        return np.asarray(Image.open(io.BytesIO(handle.read())).convert("RGB"), dtype=np.int16)


def test_a_streamed_training_registers_a_private_lora_that_changes_a_character_job(
    api, user, make_user, character, empty_queues, asgi_server, start_worker, tmp_path
):
    """One run end to end: created over HTTP and followed on its event stream (steps, loss,
    ETA, checkpoint samples, then the LoRA), then the LoRA in the registry, private to its
    owner, changing the pixels of a character job."""
    import httpx

    from accounts.services import api_token_create
    from tests.generation.lifecycle.test_events_and_webhooks import read_events

    _, token = api_token_create(user=user)
    headers = {"Authorization": f"Token {token}"}
    run = httpx.post(
        f"{asgi_server}/api/v1/trainings/",
        json={"character": str(character.id), "trigger_word": "mira_person", "seed": 11,
              "steps": 30, "checkpoint_every": 10, "learning_rate": 5e-3,
              "sample_prompts": ["mira"]},
        headers=headers,
    ).json()  # fmt: skip
    with httpx.stream(
        "GET", run["urls"]["events"], headers=headers, timeout=httpx.Timeout(180)
    ) as response:
        assert response.status_code == 200
        # The worker starts once the stream follows the run: no event goes out unheard.
        events = read_events(response, on_opening=start_worker)  # until the server ends it
    names = [name for name, _ in events]
    assert names[0] == "status" and names[-1] == "completed"
    progress = [data for name, data in events if name == "progress"]
    steps = [data["step"] for data in progress]
    assert steps == sorted(steps) and steps[-1] == 30
    assert all(data["loss"] > 0 and data["eta_s"] >= 0 for data in progress)
    assert [data["step"] for name, data in events if name == "sample"] == [10, 20]
    final = events[-1][1]
    assert final["status"] == "succeeded" and final["lora"] and final["samples"]

    done = training(api, run["id"])
    assert done["status"] == "succeeded", done["error"]
    assert done["final_loss"] < done["initial_loss"]
    assert done["progress"]["step"] == 30 and len(done["loss_history"]) == 30
    assert [sample["step"] for sample in done["samples"]] == [10, 20, 30]
    manifest = done["manifest"]
    assert manifest["steps"] == 30 and manifest["base_model_sha256"]
    assert manifest["hyperparameters"]["learning_rate"] == 5e-3 and len(manifest["data"]) == 1
    assert not stored_keys(f"trainings/{run['id']}/checkpoint")  # dropped once done

    slug = done["lora"]
    lora = Lora.objects.get(slug=slug)
    assert lora.owner == user and not lora.is_public and lora.trigger_words == ["mira_person"]
    local = tmp_path / "trained.safetensors"
    with lora.file.open("rb") as handle:
        local.write_bytes(handle.read())
    read_safetensors_header(local)  # the registry's validator
    assert read_training_manifest(local)["steps"] == 30
    assert slug in {item["slug"] for item in api.get("/api/v1/loras/").json()["results"]}

    # The prompt names the trigger word, so the LoRA's trigger adds nothing to it.
    common = {"kind": "character", "character": str(character.id), "prompt": "mira_person sailing",
              "width": 256, "height": 256, "steps": 2, "seed": 5}  # fmt: skip
    jobs = {
        name: api.post("/api/v1/jobs/", {**common, **extra}, format="json").json()["id"]
        for name, extra in {
            "plain": {},
            "full": {"loras": [{"lora": slug, "weight": 1.0}]},
            "zero": {"loras": [{"lora": slug, "weight": 0.0}]},
        }.items()
    }
    for job_id in jobs.values():  # the worker started above runs them
        wait_for(lambda job_id=job_id: job_status(api, job_id) in ("succeeded", "failed"))
    plain, full, zero = (job_pixels(api, jobs[name]) for name in ("plain", "full", "zero"))
    assert np.abs(plain - full).max() > 0
    assert np.array_equal(plain, zero)

    # Another user sees neither the run nor the LoRA, and cannot use it.
    bob = client_for(make_user("bob"))
    assert bob.get(f"/api/v1/trainings/{run['id']}/").status_code == 404
    assert bob.post(f"/api/v1/trainings/{run['id']}/cancel/").status_code == 404
    assert bob.get(f"/api/v1/loras/{slug}/").status_code == 404
    use = bob.post(
        "/api/v1/jobs/",
        {"kind": "text", "prompt": "x", "loras": [{"lora": slug, "weight": 1.0}]},
        format="json",
    )
    assert use.status_code in (400, 404) and "loras" in str(use.json()["error"])


def test_cancel_mid_run_keeps_no_lora_and_no_object(api, character, empty_queues, start_worker):
    start_worker()
    run = start_training(api, character, steps=3000, checkpoint_every=5)
    wait_for(lambda: training(api, run["id"])["checkpoint_step"] >= 5, timeout=180)
    response = api.post(f"/api/v1/trainings/{run['id']}/cancel/")
    assert response.status_code == 200
    final = wait_for(
        lambda: (body := training(api, run["id"]))["status"] == "cancelled" and body, timeout=60
    )
    assert final["lora"] is None and final["progress"]["step"] < 3000
    assert not Lora.objects.exists()
    assert not stored_keys("loras/")
    assert not stored_keys(f"trainings/{run['id']}/checkpoint")


def kill_once_checkpointed(worker, run_id: str, step: int, timeout: float = 180) -> int:
    """Kill ``worker`` (SIGKILL) once the run has a checkpoint at ``step`` or later and return
    that checkpoint's step. The test holds the run's row lock all along but for a moment every
    50 ms, and the worker records each checkpoint (and its end) under that lock: the
    checkpoint it waits to record goes in at the next moment, and the test, next in line for
    the lock, looks at the row before the worker can record another. So the kill always lands
    mid-run, just after that checkpoint, however fast or slow the worker trains."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with transaction.atomic():
            row = TrainingRun.objects.select_for_update().get(pk=run_id)
            if row.checkpoint_step >= step:
                assert row.status == "running", row.status
                worker.kill_hard()
                return row.checkpoint_step
            time.sleep(0.05)
    raise AssertionError(f"no checkpoint at step {step} within {timeout} s")


def test_a_killed_worker_resumes_from_the_checkpoint_and_ends_once(
    api, character, empty_queues, start_worker, run_worker_burst, settings
):
    settings.ILLU_RECONCILE_GRACE_SECONDS = 0
    settings.ILLU_RETRY_BACKOFF_SECONDS = 0
    doomed = f"doomed-trainer-{uuid.uuid4().hex[:8]}"
    first = start_worker(doomed)
    run = start_training(api, character, steps=40, checkpoint_every=10, sample_prompts=[])
    checkpoint = kill_once_checkpointed(first, run["id"], step=10)
    wait_for(lambda: doomed not in {w["name"] for w in live_workers()}, timeout=30)
    assert TrainingRun.objects.get(pk=run["id"]).checkpoint_step == checkpoint
    assert 10 <= checkpoint < 40

    report = reconcile_trainings()
    assert run["id"] in report.requeued_lost and run["id"] in report.reenqueued
    assert training(api, run["id"])["status"] == "queued"

    run_worker_burst()
    final = training(api, run["id"])
    assert final["status"] == "succeeded" and final["attempts"] == 2
    assert final["manifest"]["resumed_from_steps"] == [checkpoint]
    assert final["manifest"]["steps"] == 40 and len(final["loss_history"]) == 40
    assert Lora.objects.count() == 1  # ended once


def finished_training(api, run_id: str) -> dict:
    done = wait_for(
        lambda: (body := training(api, run_id))["status"] in ("succeeded", "failed") and body
    )
    assert done["status"] == "succeeded", done["error"]
    return done


def drained(subscription) -> list[dict]:
    """The messages published so far on a Redis subscription (it is closed afterwards)."""
    messages, quiet = [], 0
    while quiet < 3:  # the subscription's own confirmation reads as None too
        message = subscription.get_message(timeout=0.1)
        quiet = quiet + 1 if message is None else 0
        messages += [message] if message else []
    subscription.close()
    return messages


def lora_tensors(slug: str, path) -> dict:
    from safetensors.torch import load_file

    with Lora.objects.get(slug=slug).file.open("rb") as handle:
        path.write_bytes(handle.read())
    return load_file(path)


@pytest.fixture
def start_held_trainer_worker(worker_env, start_python, tmp_path):
    """Start (and, at the end, stop) a real worker that holds a training run after its step
    HOLD_AT_STEP until the test lets it go (tests/training/lifecycle/held_trainer.py)."""
    started = []

    def start():
        worker = start_held_trainer(start_python, worker_env, tmp_path)
        started.append(worker)
        worker.wait_ready()
        return worker

    yield start
    stop_workers(started)


def test_an_image_job_queued_during_a_training_runs_first_and_the_run_resumes_to_the_same_lora(
    api, character, empty_queues, worker_env, start_held_trainer_worker, tmp_path
):
    """One real worker serving images and trainings: an image job queued mid-training starts
    once the training gives way (ILLU_TRAINING_YIELD_AFTER_SECONDS 0: at its next check), and
    the training then resumes from the checkpoint of the step it paused at and ends once, with
    the LoRA and loss history of the same run trained without a pause. The worker holds the
    run after a step until the image job is queued, so the job always comes mid-run, however
    fast or slow the machine trains; the next check is right after that step."""
    import torch

    from work.redis_channel import events_channel
    from work.redis_queue import get_redis

    worker_env.update(ILLU_TRAINING_YIELD_AFTER_SECONDS="0", ILLU_TRAINING_YIELD_CHECK_SECONDS="0")
    worker = start_held_trainer_worker()
    params = {"steps": 30, "checkpoint_every": 30, "sample_prompts": []}
    run = start_training(api, character, **params)
    statuses = get_redis().pubsub(ignore_subscribe_messages=True)
    statuses.subscribe(events_channel(run["id"]))
    wait_for(worker.held.exists, interval=0.05)
    held = training(api, run["id"])
    assert held["status"] == "running" and held["progress"]["step"] == HOLD_AT_STEP  # mid-run
    job = api.post(
        "/api/v1/jobs/",
        {"kind": "text", "prompt": "a kite", "width": 256, "height": 256, "steps": 2, "seed": 4},
        format="json",
    ).json()
    worker.release()

    done = wait_for(
        lambda: (
            (body := api.get(f"/api/v1/jobs/{job['id']}/").json())["status"]
            in ("succeeded", "failed")
            and body
        )
    )
    assert done["status"] == "succeeded", done["error"]
    final = finished_training(api, run["id"])
    paused_at = final["manifest"]["resumed_from_steps"]
    assert paused_at == [HOLD_AT_STEP]  # paused once, mid-run, at its first check after the job
    assert done["finished_at"] < final["finished_at"]  # the image did not wait for the end
    assert final["attempts"] == 1  # the pause was no failed attempt
    assert len(final["loss_history"]) == 30 and Lora.objects.count() == 1  # ended once
    events = [json.loads(message["data"]) for message in drained(statuses)]
    pauses = [e["data"] for e in events if e["event"] == "status" and e["data"].get("paused")]
    assert [(p["status"], p["step"]) for p in pauses] == [("queued", paused_at[0])]

    # The same run again with nothing else queued: it trains through without a pause.
    whole = finished_training(api, start_training(api, character, **params)["id"])
    assert whole["manifest"]["resumed_from_steps"] == []
    assert final["loss_history"] == whole["loss_history"]
    a = lora_tensors(final["lora"], tmp_path / "paused.safetensors")
    b = lora_tensors(whole["lora"], tmp_path / "whole.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
