"""Batching, fair share, LoRA affinity, the storage stage and previews with real worker
processes, real Redis, the real database and real S3."""

from __future__ import annotations

import contextlib
import io
import json
import re
import time
from datetime import datetime

import httpx
import numpy as np
import pytest
from django.core.files import File
from django.core.files.storage import default_storage
from PIL import Image

from accounts.services import api_token_create, avatar_create
from catalog.services import lora_register
from generation.models import GenerationJob
from generation.services import job_create
from generation.uploads import upload_create
from generation.work_kind import reconcile_jobs
from gpu_worker import tasks
from gpu_worker.demo_models import ensure_demo_models
from tests import photos
from tests.conftest import client_for
from tests.fixtures.lifecycle import start_workers, stop_workers, wait_for
from tests.generation.lifecycle.paused_worker import (
    PAUSE_AT_STEP,
    start_holding_workers,
    start_paused_worker,
)
from tests.generation.lifecycle.test_events_and_webhooks import read_events
from work.workers import live_workers

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_warmup"),
]

SMALL = {"width": 256, "height": 256, "steps": 2}
BATCH_LINE = re.compile(r"serving a batch of (\d+) job\(s\): ([0-9a-f-]+(?:, [0-9a-f-]+)*)")


def make_job(owner, **params) -> GenerationJob:
    job, _ = job_create(owner=owner, kind="text", params={**SMALL, **params})
    return job


def rows(jobs) -> list[GenerationJob]:
    return [GenerationJob.objects.get(pk=job.pk) for job in jobs]


def pixels(image_row) -> np.ndarray:
    with image_row.file.open("rb") as handle:
        return np.asarray(Image.open(io.BytesIO(handle.read())).convert("RGB"), dtype=np.int16)


def batches_in(log: str) -> list[list[str]]:
    return [match.group(2).split(", ") for match in BATCH_LINE.finditer(log)]


def stored_keys(job_id) -> set[str]:
    keys = set()
    for folder in (f"generated/{job_id}", f"generated/{job_id}/thumbs"):
        with contextlib.suppress(FileNotFoundError, OSError):  # no such folder: no keys
            keys |= {f"{folder}/{name}" for name in default_storage.listdir(folder)[1]}
    return keys


def test_compatible_jobs_of_two_users_run_as_one_pass_equal_to_solo_runs(
    make_user, empty_queues, run_worker_burst, settings
):
    alice, bob = make_user(), make_user()
    jobs = [
        make_job(alice, prompt="a lighthouse", seed=1),
        make_job(bob, prompt="a fox", negative_prompt="blurry", seed=2),
        make_job(alice, prompt="a castle", seed=3),
        make_job(bob, prompt="a boat", seed=4),
    ]
    wider = make_job(alice, prompt="a wide field", seed=5, width=320)
    result = run_worker_burst()

    batched, wider = rows(jobs), rows([wider])[0]
    assert all(job.status == "succeeded" for job in [*batched, wider])
    # One engine pass of batch size 4: one shared start and end, four jobs' timings say so.
    assert [len(batch) for batch in batches_in(result.stdout + result.stderr)] == [4, 1]
    assert {job.started_at for job in batched} == {batched[0].started_at}
    assert {job.finished_at for job in batched} == {batched[0].finished_at}
    assert all(job.timings["batch_size"] == 4 for job in batched)
    assert all(job.images.get().manifest["batch"]["size"] == 4 for job in batched)
    # Another size cannot share the pass.
    assert wider.timings["batch_size"] == 1 and wider.started_at != batched[0].started_at

    settings.ILLU_MAX_BATCH = 1
    for job in batched:
        solo = make_job(job.owner, **{k: job.params[k] for k in ("prompt", "negative_prompt")},
                        seed=job.params["seed"])  # fmt: skip
        tasks.run_generation_job(str(solo.id))
        solo.refresh_from_db()
        assert solo.timings["batch_size"] == 1
        difference = np.abs(pixels(job.images.get()) - pixels(solo.images.get())).max()
        assert difference <= 1, f"batched image differs from its solo run by {difference}/255"


def control_job(owner, upload_id: str, scale: float = 0.8, **params) -> GenerationJob:
    control = {"type": "canny", "image": upload_id, "scale": scale}
    job, _ = job_create(owner=owner, kind="control", params={**SMALL, **params, "control": control})
    return job


def memory_job(owner, **params) -> GenerationJob:
    job, _ = job_create(owner=owner, kind="memory", params={**SMALL, **params})
    return job


def stored_image(key: str) -> np.ndarray:
    with default_storage.open(key, "rb") as handle:
        return np.asarray(Image.open(io.BytesIO(handle.read())).convert("RGB"), dtype=np.int16)


def test_control_and_avatar_jobs_share_a_pass_each_with_its_own_images(
    make_user, empty_queues, run_worker_burst, settings
):
    alice, bob, carol = make_user(), make_user(), make_user()
    for owner, face in ((alice, photos.astronaut()), (bob, photos.other_person())):
        avatar_create(owner=owner, upload=photos.upload_of(face))
    uploads = {
        owner: str(upload_create(owner=owner, upload=photos.upload_of(photo)).id)
        for owner, photo in ((alice, photos.astronaut()), (bob, photos.other_person()),
                             (carol, photos.two_faces()))
    }  # fmt: skip
    controlled = [
        control_job(alice, uploads[alice], prompt="a statue", seed=1),
        control_job(bob, uploads[bob], prompt="a tower", negative_prompt="fog", seed=2),
        control_job(carol, uploads[carol], prompt="a bridge", seed=3),
    ]
    remembered = [
        memory_job(alice, prompt="a picnic", seed=4),
        memory_job(bob, prompt="a boat", seed=5),
    ]
    weaker = control_job(carol, uploads[carol], scale=0.5, prompt="a bridge", seed=3)
    result = run_worker_burst()

    # Same ControlNet setup: one pass; same IP-Adapter setup (avatars): another; another
    # control scale: a pass of its own.
    assert sorted(len(batch) for batch in batches_in(result.stdout + result.stderr)) == [1, 2, 3]
    controlled, remembered, weaker = rows(controlled), rows(remembered), rows([weaker])[0]
    for group in (controlled, remembered):
        assert all(job.status == "succeeded" for job in group)
        assert {job.started_at for job in group} == {group[0].started_at}
        assert all(job.timings["batch_size"] == len(group) for job in group)
    assert weaker.status == "succeeded" and weaker.timings["batch_size"] == 1
    # Each job kept its own inputs: its manifest names its control or reference image, its
    # control image is stored with it, and the avatar jobs were scored for identity.
    manifests = [job.images.get().manifest for job in [*controlled, *remembered]]
    assert len({m["controls"][0]["image_sha256"] for m in manifests[:3]}) == 3
    assert len({m["ip_adapter"]["reference_images_sha256"][0] for m in manifests[3:]}) == 2
    assert all(m["identity"]["backend"] == "dlib" for m in manifests[3:])
    assert all(len(job.conditioning) == 1 for job in controlled)

    settings.ILLU_MAX_BATCH = 1
    for job in [*controlled, *remembered]:
        asked = {k: job.params[k] for k in ("prompt", "negative_prompt")}
        if job.kind == "control":
            solo = control_job(
                job.owner, job.params["control"]["image"], seed=job.params["seed"], **asked
            )
        else:
            solo = memory_job(job.owner, seed=job.params["seed"], **asked)
        tasks.run_generation_job(str(solo.id))
        solo.refresh_from_db()
        assert solo.timings["batch_size"] == 1
        difference = np.abs(pixels(job.images.get()) - pixels(solo.images.get())).max()
        assert difference <= 1, f"batched image differs from its solo run by {difference}/255"
        if job.kind == "control":
            batched_edges = stored_image(job.conditioning[0]["key"])
            assert np.array_equal(batched_edges, stored_image(solo.conditioning[0]["key"]))


def test_cancelling_one_job_of_a_batch_drops_it_and_the_others_finish(
    api, user, empty_queues, worker_env, start_python, tmp_path, request
):
    steps = PAUSE_AT_STEP + 2  # the cancel arrives while the batch holds after step 2
    jobs = [make_job(user, prompt=f"long {i}", steps=steps, seed=i) for i in range(3)]
    gate = tmp_path / "hold"
    gate.touch()
    # A production worker but for one thing: it holds after step PAUSE_AT_STEP while the
    # gate exists, so the cancel provably arrives mid-run.
    (worker,) = start_holding_workers(
        start_python, worker_env, [f"cancel-batch-{time.time_ns()}"], gate
    )
    request.addfinalizer(lambda: stop_workers([worker]))
    doomed = jobs[1]
    try:
        wait_for(worker.held_job, timeout=240)
        assert {job.status for job in rows(jobs)} == {"running"}  # one batch, mid-run
        assert 0 < api.get(f"/api/v1/jobs/{doomed.id}/").json()["progress"]["step"] < steps
        assert api.post(f"/api/v1/jobs/{doomed.id}/cancel/").status_code == 200
    finally:
        gate.unlink()  # the run goes on
    wait_for(lambda: all(job.is_finished for job in rows(jobs)), timeout=240)

    first, cancelled, last = rows(jobs)
    assert cancelled.status == "cancelled" and cancelled.images.count() == 0
    assert api.get(f"/api/v1/jobs/{doomed.id}/").json()["progress"]["step"] < steps
    for job in (first, last):
        assert job.status == "succeeded" and job.images.count() == 1
        assert job.timings["batch_size"] == 3 and job.started_at == cancelled.started_at


def test_workers_killed_mid_batch_and_mid_upload_lose_no_job_and_each_job_ends_once(
    api, user, empty_queues, worker_env, start_python, run_worker_burst, settings, tmp_path
):
    """Two workers killed at once, one after a denoising step of a batch (mid-run), one after
    its storage stage uploaded a job's files and before the commit; one reconcile and one new
    worker then run every job to completion once, with one set of stored images."""
    settings.ILLU_RECONCILE_GRACE_SECONDS = 0
    settings.ILLU_RETRY_BACKOFF_SECONDS = 0
    steps = PAUSE_AT_STEP + 2
    batch = [make_job(user, prompt=f"survivor {i}", steps=steps, seed=i) for i in range(3)]
    mid_run = start_paused_worker(start_python, worker_env, "step", tmp_path)
    processes = [mid_run[0]]
    try:
        wait_for(mid_run[2].exists, timeout=240)  # it holds the whole batch, stopped mid-run
        assert {job.status for job in rows(batch)} == {"running"}
        assert 0 < api.get(f"/api/v1/jobs/{batch[0].id}/").json()["progress"]["step"] < steps
        stored = make_job(user, prompt="stored once", seed=7)
        mid_upload = start_paused_worker(start_python, worker_env, "upload", tmp_path)
        processes.append(mid_upload[0])
        wait_for(mid_upload[2].exists, timeout=240)
        # Uploaded, not committed: the job is still running and has no image rows.
        assert rows([stored])[0].status == "running" and stored.images.count() == 0
        assert len(stored_keys(stored.id)) == 2  # PNG + thumbnail, orphans for now
    finally:
        for process in processes:
            process.kill()
            process.wait(timeout=30)
    doomed = {mid_run[1], mid_upload[1]}
    wait_for(lambda: not doomed & {w["name"] for w in live_workers()}, timeout=30)

    report = reconcile_jobs()
    assert {str(job.id) for job in [*batch, stored]} <= set(report.requeued_lost)
    assert stored_keys(stored.id) == set()  # the killed attempt's objects are gone
    run_worker_burst()
    for job in rows([*batch, stored]):
        assert job.status == "succeeded" and job.attempts == 2
        assert job.images.count() == 1
    image = rows([stored])[0].images.get()
    assert stored_keys(stored.id) == {image.file.name, image.thumbnail.name}


def test_two_workers_never_run_a_job_twice(
    make_user, empty_queues, worker_env, start_python, request
):
    users = [make_user() for _ in range(3)]
    tag = time.time_ns()
    workers = start_workers(start_python, worker_env, [f"pair-{tag}-{n}" for n in range(2)])
    request.addfinalizer(lambda: stop_workers(workers))
    first, second = workers
    jobs = [
        make_job(users[i % 3], prompt=f"job {i}", seed=i, steps=1, width=256 if i % 2 else 320)
        for i in range(8)
    ]
    wait_for(lambda: all(job.is_finished for job in rows(jobs)), timeout=300)
    for job in rows(jobs):
        assert job.status == "succeeded" and job.attempts == 1 and job.images.count() == 1
    served = [
        job_id for w in (first, second) for batch in batches_in(w.output()) for job_id in batch
    ]
    assert sorted(served) == sorted(str(job.id) for job in jobs)  # each exactly once
    assert all(batches_in(w.output()) for w in (first, second))  # both took work


def test_fair_share_a_lone_users_job_starts_within_the_next_batch(
    make_user, empty_queues, run_worker_burst, settings
):
    settings.ILLU_DEFAULT_MAX_CONCURRENT_JOBS = 50
    heavy, lone = make_user(), make_user()
    heavy_jobs = [make_job(heavy, prompt=f"heavy {i}", seed=i, steps=1) for i in range(8)]
    # Another size, so it cannot simply ride along in the heavy user's batches.
    lone_job = make_job(lone, prompt="just one", seed=99, steps=1, width=320)
    run_worker_burst()

    starts = sorted({job.started_at for job in rows(heavy_jobs)})
    lone_start = rows([lone_job])[0].started_at
    assert len(starts) == 2  # 8 jobs in passes of 4
    # First-in-first-out would start it after both; fair share right after the first.
    assert starts[0] < lone_start < starts[1]


def test_lora_affinity_passes_a_job_over_at_most_the_bound(
    make_user, empty_queues, worker_env, run_worker_burst
):
    demo = ensure_demo_models()
    for slug, key in (("style-a", "lora_a"), ("style-b", "lora_b")):
        with open(demo[key], "rb") as handle:
            lora_register(upload=File(handle, name=f"{slug}.safetensors"), slug=slug,
                          name=slug, type="style", trigger_words=[])  # fmt: skip
    worker_env.update(ILLU_MAX_BATCH="1", ILLU_LORA_AFFINITY_MAX_PASS="2")
    heavy, other = make_user(), make_user()
    style_a = [{"lora": "style-a", "weight": 0.8}]
    heavy_jobs = [
        make_job(heavy, prompt=f"a {i}", seed=i, steps=1, loras=style_a) for i in range(4)
    ]
    needs_b = make_job(
        other, prompt="b", seed=50, steps=1, loras=[{"lora": "style-b", "weight": 1.0}]
    )
    run_worker_burst()

    order = sorted(rows([*heavy_jobs, needs_b]), key=lambda job: job.started_at)
    position = [job.id for job in order].index(needs_b.id)
    # Fair share alone would run it second; affinity keeps style-a loaded for two more jobs,
    # and never longer than the bound (without one it would run last, fifth).
    assert position == 1 + 2


def test_out_of_memory_in_a_batch_splits_it_and_every_job_finishes(
    make_user, empty_queues, monkeypatch, unet_out_of_memory
):
    from gpu_worker.runtime import get_engine
    from gpu_worker.worker import build_worker

    engine = get_engine()
    real_generate_batch = engine.generate_batch
    sizes = []

    def counting_generate_batch(members, preview_every=0):  # observes; the fault is below
        sizes.append(sum(member.spec.num_images for member in members))
        return real_generate_batch(members, preview_every)

    monkeypatch.setattr(engine, "generate_batch", counting_generate_batch)
    # Inside the engine, the device runs out of memory on a pass of more than two images.
    unet_out_of_memory(when=lambda sample: sizes[-1] > 2, times=None)
    users = [make_user(), make_user()]
    jobs = [make_job(users[i % 2], prompt=f"p{i}", seed=i) for i in range(4)]
    build_worker().work(burst=True)

    assert sizes == [4, 2, 2]
    for job in rows(jobs):
        assert job.status == "succeeded" and job.attempts == 1 and job.images.count() == 1
        assert job.timings["batch_size"] == 2


def test_preview_events_arrive_during_a_run_and_are_never_stored(
    user, empty_queues, module_asgi_server, start_worker
):
    _, token = api_token_create(user=user)
    headers = {"Authorization": f"Token {token}"}
    created = httpx.post(
        f"{module_asgi_server.url}/api/v1/jobs/",
        json={"kind": "text", "prompt": "previewed", "width": 256, "height": 256, "steps": 12},
        headers=headers,
    ).json()
    with httpx.stream(
        "GET", created["urls"]["events"], headers=headers, timeout=httpx.Timeout(120)
    ) as response:
        # Previews are published, not stored: the worker starts once the stream follows the job.
        events = read_events(response, on_opening=start_worker)

    previews = [data for name, data in events if name == "preview"]
    assert [data["step"] for data in previews] == [5, 10]  # ILLU_PREVIEW_EVERY=5
    for data in previews:
        assert data["image"].startswith("data:image/jpeg;base64,") and data["total"] == 12
    job = GenerationJob.objects.get(pk=created["id"])
    assert job.status == "succeeded" and job.images.count() == 1
    assert len(stored_keys(job.id)) == 2  # the PNG and its thumbnail; no preview


def test_a_queued_job_reports_its_position_and_estimated_start(make_user, empty_queues, settings):
    settings.ILLU_MAX_BATCH = 2
    heavy, lone = make_user(), make_user()
    heavy_jobs = [make_job(heavy, prompt=f"h{i}", seed=i) for i in range(5)]
    lone_job = make_job(lone, prompt="l", seed=9, width=320)
    body = client_for(lone).get(f"/api/v1/jobs/{lone_job.id}/").json()
    # Batches: h0+h1, then the lone user's job (fair share), then h2+h3, h4.
    assert body["queue"]["position"] == 3 and body["queue"]["batches_ahead"] == 1
    assert body["queue"]["estimated_start"]
    first = client_for(heavy).get(f"/api/v1/jobs/{heavy_jobs[0].id}/").json()["queue"]
    assert first["position"] == 1 and first["batches_ahead"] == 0
    last = client_for(heavy).get(f"/api/v1/jobs/{heavy_jobs[4].id}/").json()["queue"]
    assert last["batches_ahead"] == 3 and last["estimated_start"] > body["queue"]["estimated_start"]


def test_sse_tells_a_queued_job_its_position(user, empty_queues, module_asgi_server):
    _, token = api_token_create(user=user)
    headers = {"Authorization": f"Token {token}"}
    created = httpx.post(
        f"{module_asgi_server.url}/api/v1/jobs/",
        json={"kind": "text", "prompt": "waiting", **SMALL},
        headers=headers,
    ).json()
    events, name = [], None
    with httpx.stream(
        "GET", created["urls"]["events"], headers=headers, timeout=httpx.Timeout(60)
    ) as response:
        for line in response.iter_lines():  # no worker runs: read until the queue event
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: ") and name:
                events.append((name, json.loads(line.removeprefix("data: "))))
                if name == "queue":
                    break
    assert [name for name, _ in events] == ["status", "queue"]
    queue = events[1][1]
    assert queue["position"] == 1 and queue["batches_ahead"] == 0
    assert datetime.fromisoformat(queue["estimated_start"])
