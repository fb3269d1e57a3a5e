"""Jobs on the registry's models: a real `gpu_worker --burst` process loads the model each job
names (two demo checkpoints from different seeds draw different images for the same seed and
prompt), names it in every manifest (slug and weights sha256) and records that sha256 on the
model's row; the job reports the worker that ran it and the model's load time."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from catalog.models import BaseModel
from generation.models import GeneratedImage
from gpu_worker import tasks
from gpu_worker.demo_models import DEMO_MODEL, ensure_demo_variant, register_demo_models
from gpu_worker.engine.tiny_variants import build_tiny_vae

pytestmark = pytest.mark.django_db(transaction=True)

JOB = {"kind": "text", "prompt": "a red fox", "width": 256, "height": 256, "steps": 2, "seed": 5}


@pytest.fixture
def demo_registry(demo_models):
    ensure_demo_variant()  # built once here, not inside the worker's first job
    register_demo_models()
    return {model.slug: model for model in BaseModel.objects.all()}


def create(api, **body) -> dict:
    response = api.post("/api/v1/jobs/", {**JOB, **body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def stored_pixels(image: dict) -> np.ndarray:
    row = GeneratedImage.objects.get(pk=image["id"])
    with row.file.open("rb") as handle:
        return np.asarray(Image.open(io.BytesIO(handle.read())).convert("RGB"), dtype=np.int16)


def test_the_manifest_names_the_models_slug_and_sha256_and_the_row_records_it(
    api, demo_registry, empty_queues
):
    assert demo_registry["demo-tiny"].sha256 == ""
    job = create(api, model="demo-tiny")
    assert tasks.run_generation_job(job["id"])["status"] == "succeeded"
    manifest = GeneratedImage.objects.get(job_id=job["id"]).manifest
    assert manifest["model"]["slug"] == "demo-tiny"
    sha256 = manifest["model"]["sha256"]
    assert len(sha256) == 64 and BaseModel.objects.get(slug="demo-tiny").sha256 == sha256
    # Users see manifests; a registered model's source is staff-only.
    assert "source" not in manifest["model"]


@pytest.mark.slow
@pytest.mark.e2e
def test_two_demo_models_draw_different_images_for_the_same_seed_and_prompt(
    api, demo_registry, empty_queues, run_worker_burst
):
    jobs = [create(api, model=slug) for slug in ("demo-tiny", "demo-tiny-b", "demo-tiny")]
    run_worker_burst()
    bodies = [api.get(f"/api/v1/jobs/{job['id']}/").json() for job in jobs]
    assert [body["status"] for body in bodies] == ["succeeded"] * 3, bodies
    a, b, a_again = (stored_pixels(body["images"][0]) for body in bodies)
    assert np.abs(a - b).max() > 10 and np.array_equal(a, a_again)
    assert all(body["worker"] for body in bodies)
    assert all(body["timings"]["model_load_ms"] >= 0 for body in bodies)
    manifests = [GeneratedImage.objects.get(job_id=job["id"]).manifest["model"] for job in jobs]
    assert [m["slug"] for m in manifests] == ["demo-tiny", "demo-tiny-b", "demo-tiny"]
    assert manifests[0]["sha256"] == manifests[2]["sha256"] != manifests[1]["sha256"]
    recorded = dict(BaseModel.objects.values_list("slug", "sha256"))
    assert recorded == {"demo-tiny": manifests[0]["sha256"], "demo-tiny-b": manifests[1]["sha256"]}


def test_a_model_with_its_own_vae_draws_with_it(
    api, demo_models, demo_registry, empty_queues, tmp_path
):
    own_vae = build_tiny_vae(Path(demo_models["sdxl"]), tmp_path / "vae", seed=4)
    BaseModel.objects.create(
        slug="demo-own-vae", name="own VAE", family="sdxl", source=DEMO_MODEL, vae=str(own_vae)
    )
    jobs = [create(api, model=slug) for slug in ("demo-tiny", "demo-own-vae")]
    for job in jobs:
        assert tasks.run_generation_job(job["id"])["status"] == "succeeded"
    bodies = [api.get(f"/api/v1/jobs/{job['id']}/").json() for job in jobs]
    plain, own = (stored_pixels(body["images"][0]) for body in bodies)
    assert np.abs(plain - own).max() > 10  # one checkpoint, the same latents, its own decoder
    manifest = GeneratedImage.objects.get(job_id=jobs[1]["id"]).manifest
    assert manifest["model"]["slug"] == "demo-own-vae"
    assert manifest["vae"]["source"] == str(own_vae)
