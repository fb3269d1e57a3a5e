"""A job is never lost, never run to completion twice, and always ends in a status a client
can trust: real worker processes, real Redis, real database, real S3."""

from __future__ import annotations

import pytest
from django.core.files import File
from django.core.files.storage import default_storage

from accounts.models import Quota
from accounts.services import avatar_create
from catalog.services import lora_register
from characters.services import character_create, reference_add
from generation.models import GenerationJob
from generation.uploads import upload_create
from generation.work_kind import reconcile_jobs
from gpu_worker.demo_models import ensure_demo_models
from tests import photos
from tests.fixtures.lifecycle import wait_for
from tests.generation.lifecycle.paused_worker import PAUSE_AT_STEP, start_paused_worker
from work.workers import live_workers

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_warmup"),
]

SMALL = {"width": 256, "height": 256, "steps": 2}


def job_status(api, job_id: str) -> dict:
    return api.get(f"/api/v1/jobs/{job_id}/").json()


def create(api, **body) -> dict:
    response = api.post("/api/v1/jobs/", {**SMALL, **body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_every_kind_end_to_end(api, user, empty_queues, run_worker_burst):
    demo = ensure_demo_models()
    with open(demo["lora_a"], "rb") as handle:
        lora, _ = lora_register(
            upload=File(handle, name="hero.safetensors"),
            slug="hero",
            name="Hero",
            type="character",
            trigger_words=["hero_person"],
        )
    avatar_create(owner=user, upload=photos.upload_of(photos.astronaut()))
    character = character_create(
        owner=user, name="Astro", default_loras=[{"lora": "hero", "weight": 0.8}]
    )
    reference_add(character=character, upload=photos.upload_of(photos.astronaut()))
    control = upload_create(owner=user, upload=photos.upload_of(photos.astronaut()))

    jobs = {
        "text": create(api, kind="text", prompt="a lighthouse"),
        "memory": create(api, kind="memory", prompt="a birthday party"),
        "subject": create(api, kind="subject"),
        "character": create(api, kind="character", prompt="on a boat", character=str(character.id)),
        "control": create(
            api,
            kind="control",
            prompt="a statue",
            control={"type": "canny", "image": str(control.id), "scale": 0.8},
        ),
    }
    run_worker_burst()

    results = {kind: job_status(api, body["id"]) for kind, body in jobs.items()}
    for kind, job in results.items():
        assert job["status"] == "succeeded", (kind, job["error"])
        assert len(job["images"]) == 1 and job["images"][0]["width"] == 256
    # Identity kinds are scored: noise from the tiny model has no face, so nothing passes.
    for kind in ("memory", "subject", "character"):
        image = results[kind]["images"][0]
        assert image["consistency_score"] is None and image["accepted"] is False
        assert image["manifest"]["identity"]["backend"] == "dlib"
    assert results["memory"]["params"]["style"] == "memory"
    assert results["memory"]["params"]["ip_adapter_scale"] == 0.33
    character_job = results["character"]
    assert character_job["params"]["loras"][0]["sha256"] == lora.sha256
    assert "hero_person" in character_job["params"]["trigger_words"]
    assert lora.sha256 in str(character_job["images"][0]["manifest"])
    [conditioning] = results["control"]["conditioning_images"]
    assert conditioning["type"] == "canny" and conditioning["url"]
    assert results["text"]["images"][0]["accepted"] is True  # no identity: nothing to check


def test_cancelling_a_running_job_stops_it_before_its_last_step(api, empty_queues, start_worker):
    start_worker()
    job = create(api, kind="text", prompt="long", steps=150)
    wait_for(lambda: job_status(api, job["id"])["progress"]["step"] >= 2, timeout=120)
    api.post(f"/api/v1/jobs/{job['id']}/cancel/")
    final = wait_for(
        lambda: (body := job_status(api, job["id"]))["status"] == "cancelled" and body,
        timeout=60,
    )
    assert final["images"] == []
    assert GenerationJob.objects.get(pk=job["id"]).images.count() == 0
    assert final["progress"]["step"] < 150


def test_a_killed_worker_loses_no_job(
    api, empty_queues, worker_env, start_python, run_worker_burst, settings, tmp_path
):
    settings.ILLU_RECONCILE_GRACE_SECONDS = 0
    settings.ILLU_RETRY_BACKOFF_SECONDS = 0
    steps = PAUSE_AT_STEP + 2
    job = create(api, kind="text", prompt="survivor", steps=steps)
    # The worker stops for good after a denoising step: killed mid-run.
    first, doomed, marker = start_paused_worker(start_python, worker_env, "step", tmp_path)
    try:
        wait_for(marker.exists, timeout=240)
        running = job_status(api, job["id"])
        assert running["status"] == "running" and 0 < running["progress"]["step"] < steps
    finally:
        first.kill()
        first.wait(timeout=30)
    wait_for(lambda: doomed not in {w["name"] for w in live_workers()}, timeout=30)

    report = reconcile_jobs()
    assert job["id"] in report.requeued_lost and job["id"] in report.reenqueued
    assert job_status(api, job["id"])["status"] == "queued"

    run_worker_burst()
    final = job_status(api, job["id"])
    assert final["status"] == "succeeded" and final["attempts"] == 2
    assert len(final["images"]) == 1  # run to completion once


def test_out_of_memory_retries_with_low_memory_and_the_worker_keeps_serving(
    api, empty_queues, settings, unet_out_of_memory
):
    settings.ILLU_MAX_BATCH = 1  # the single-job path (a batch splits: test_batching.py)
    from gpu_worker.worker import build_worker

    fault = unet_out_of_memory(times=1)  # the device runs out of memory inside the engine
    first = create(api, kind="text", prompt="too big")
    second = create(api, kind="text", prompt="next one")
    build_worker().work(burst=True)

    first_final, second_final = job_status(api, first["id"]), job_status(api, second["id"])
    assert first_final["status"] == "succeeded" and first_final["attempts"] == 2
    assert first_final["params"]["memory_profile"] == "low"
    assert second_final["status"] == "succeeded"
    # The retry ran under the low-memory profile; the other job under the default one.
    default = fault.profiles[0]
    assert fault.raised == 1 and default != "low"
    assert set(fault.profiles) == {default, "low"}


def test_cancel_after_cancels_an_unfinished_job(api, empty_queues, settings):
    settings.ILLU_RECONCILE_GRACE_SECONDS = 0
    job = create(api, kind="text", prompt="too slow", cancel_after=1)
    import time

    time.sleep(1.2)
    assert job["id"] in reconcile_jobs().cancelled_deadline
    assert job_status(api, job["id"])["status"] == "cancelled"


def test_queued_job_missing_in_redis_is_enqueued_again(api, empty_queues, settings):
    from work.redis_queue import get_queue

    settings.ILLU_RECONCILE_GRACE_SECONDS = 0
    job = create(api, kind="text", prompt="lost in redis")
    get_queue("gpu").empty()
    assert job["id"] in reconcile_jobs().reenqueued
    assert get_queue("gpu").job_ids == [job["id"]]
    assert reconcile_jobs().reenqueued == []  # once is enough


def test_high_priority_runs_first_and_a_cancelled_queued_job_never_starts(
    api, user, empty_queues, run_worker_burst
):
    Quota.objects.create(user=user, allow_high_priority=True)  # priority high needs it
    low = create(api, kind="text", prompt="later", priority="low")
    job = create(api, kind="text", prompt="never drawn")
    cancelled = api.post(f"/api/v1/jobs/{job['id']}/cancel/").json()
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"]  # at once
    high = create(api, kind="text", prompt="sooner", priority="high")
    run_worker_burst()
    low_job = GenerationJob.objects.get(pk=low["id"])
    high_job = GenerationJob.objects.get(pk=high["id"])
    assert high_job.started_at < low_job.started_at
    # The same worker served the queues and never started the cancelled one.
    assert low_job.status == "succeeded"
    final = job_status(api, job["id"])
    assert final["status"] == "cancelled" and final["attempts"] == 0 and final["images"] == []
    again = api.post(f"/api/v1/jobs/{job['id']}/cancel/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_prefer_wait_holds_the_response_until_the_job_ends_retry_makes_a_new_job_delete_too(
    api, empty_queues, start_worker
):
    """A worker serves jobs whose creation waits for their end (Prefer: wait); once it has
    stopped, a retry of an ended job is a new job (queued), and deleting one removes its files."""
    worker = start_worker()

    def create_and_wait(**body) -> dict:
        response = api.post(
            "/api/v1/jobs/", {**SMALL, "kind": "text", **body}, format="json", HTTP_PREFER="wait=60"
        )
        assert response.status_code == 201
        assert response["Preference-Applied"] == "wait"
        return response.json()

    fixed = create_and_wait(prompt="again", seed=5)
    free = create_and_wait(prompt="again")
    assert fixed["status"] == "succeeded" and free["status"] == "succeeded"
    worker.stop()  # the retries stay queued

    retried_fixed = api.post(f"/api/v1/jobs/{fixed['id']}/retry/")
    retried_free = api.post(f"/api/v1/jobs/{free['id']}/retry/").json()
    assert retried_fixed.status_code == 201
    assert retried_fixed.json()["id"] != fixed["id"]
    assert retried_fixed.json()["params"]["seeds"] == [5]
    assert retried_free["params"]["seeds"] != job_status(api, free["id"])["params"]["seeds"]

    image = GenerationJob.objects.get(pk=fixed["id"]).images.get()
    names = [image.file.name, image.thumbnail.name]
    assert all(default_storage.exists(name) for name in names)
    assert api.delete(f"/api/v1/jobs/{fixed['id']}/").status_code == 204
    assert not any(default_storage.exists(name) for name in names)
    assert api.get(f"/api/v1/jobs/{fixed['id']}/").status_code == 404

    deleted = api.post("/api/v1/jobs/bulk-delete/", {"status": "queued"}, format="json").json()
    assert deleted == {"deleted": 2}  # the two retries, still queued
    assert GenerationJob.objects.filter(pk=free["id"]).exists()


def test_a_job_over_its_time_limit_fails_with_timeout(api, empty_queues, settings):
    from gpu_worker.worker import build_worker

    settings.ILLU_JOB_TIMEOUT = 1
    job = create(api, kind="text", prompt="endless", width=1024, height=1024, steps=150)
    nxt = create(api, kind="text", prompt="after it")
    build_worker().work(burst=True)  # RQ's death penalty, as in the worker process
    final = job_status(api, job["id"])
    assert final["status"] == "failed" and final["error"]["code"] == "timeout"
    assert "1 s limit" in final["error"]["message"] and final["images"] == []
    # The same worker went on to the next job and finished it (either way, within its limit).
    assert job_status(api, nxt["id"])["status"] in ("succeeded", "failed")
