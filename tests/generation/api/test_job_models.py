"""POST /api/v1/jobs/ and the registry: which base model a job names, what is refused (unknown
or disabled model; a LoRA of another family), and what a job reports (params.model, worker,
timings.model_load_ms)."""

from __future__ import annotations

import pytest

from catalog.models import BaseModel, Lora, StylePreset
from generation.models import GenerationJob
from work.redis_queue import get_queue

pytestmark = pytest.mark.django_db

VALID = {"kind": "text", "prompt": "a lighthouse at dusk", "width": 512, "height": 384}


@pytest.fixture
def models():
    for slug in ("demo-tiny", "demo-tiny-b", "retired"):
        BaseModel.objects.create(
            slug=slug, name=slug, source="demo:tiny-sdxl", enabled=slug != "retired",
            default_scheduler="ddim" if slug == "demo-tiny-b" else "euler",
        )  # fmt: skip


def post(api, **fields):
    return api.post("/api/v1/jobs/", {**VALID, **fields}, format="json")


def assert_refused(response, field: str) -> None:
    assert response.status_code == 400, response.json()
    assert field in response.json()["error"]["fields"]
    assert GenerationJob.objects.count() == 0 and get_queue("gpu").count == 0


def test_a_named_model_is_the_jobs_model_and_its_default_scheduler_applies(
    api, models, empty_queues
):
    params = post(api, model="demo-tiny-b").json()["params"]
    assert params["model"] == "demo-tiny-b" and params["scheduler"] == "ddim"
    # Nothing the engine needs to load it (its source) is in the user-visible params.
    assert "demo:tiny-sdxl" not in str(params)


def test_without_a_model_the_platform_default_is_used(api, models, empty_queues, settings):
    settings.ILLU_DEFAULT_MODEL = "demo-tiny"
    assert post(api).json()["params"]["model"] == "demo-tiny"


def test_with_an_empty_registry_jobs_run_on_the_configured_weights(api, empty_queues):
    assert post(api).json()["params"]["model"] == "demo:tiny-sdxl"


def test_the_style_presets_pinned_model_is_used_by_default(api, models, empty_queues):
    StylePreset.objects.create(
        slug="b-look", name="B look", base_model=BaseModel.objects.get(slug="demo-tiny-b")
    )
    assert post(api, style="b-look").json()["params"]["model"] == "demo-tiny-b"
    assert post(api, style="b-look", model="demo-tiny").json()["params"]["model"] == "demo-tiny"


@pytest.mark.parametrize("slug", ["nope", "retired"])
def test_an_unknown_or_disabled_model_is_400_naming_model(api, models, empty_queues, slug):
    assert_refused(post(api, model=slug), "model")


def test_a_lora_of_another_family_is_400_naming_loras(api, models, public_lora, empty_queues):
    Lora.objects.filter(pk=public_lora.pk).update(base_model="sd15")
    response = post(api, model="demo-tiny", loras=[{"lora": public_lora.slug}])
    assert_refused(response, "loras")
    assert "Stable Diffusion 1.5" in response.json()["error"]["message"]


def test_a_lora_of_the_models_family_is_accepted(api, models, public_lora, empty_queues):
    response = post(api, model="demo-tiny", loras=[{"lora": public_lora.slug}])
    assert response.status_code == 201, response.json()
    assert [lora["slug"] for lora in response.json()["params"]["loras"]] == [public_lora.slug]


def test_a_job_reports_its_worker_and_model_load_time(api, models, empty_queues):
    body = post(api, model="demo-tiny").json()
    assert body["worker"] == "" and body["timings"] == {}
    GenerationJob.objects.filter(pk=body["id"]).update(
        worker_name="gpu-a", timings={"model_load_ms": 0, "inference_ms": 40}
    )
    body = api.get(f"/api/v1/jobs/{body['id']}/").json()
    assert body["worker"] == "gpu-a" and body["timings"]["model_load_ms"] == 0
