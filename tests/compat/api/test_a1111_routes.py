"""The AUTOMATIC1111 routes in-process: HTTP Basic with a token, what they refuse (naming the
A1111 field), what they store, and who an interrupt reaches. (`webuiapi` drives a live server
in tests/compat/clients/.)"""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image
from rest_framework.test import APIClient

from accounts.services import api_token_create
from generation.models import GenerationJob, Upload
from tests.conftest import client_for
from work.models import WorkStatus
from work.redis_channel import publish_event

pytestmark = pytest.mark.django_db


def basic(username: str, password: str) -> APIClient:
    client = APIClient()
    raw = base64.b64encode(f"{username}:{password}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {raw}")
    return client


@pytest.fixture
def webui(user) -> APIClient:
    return basic(user.username, api_token_create(user=user, name="webui")[1])


@pytest.fixture
def no_wait(settings):
    settings.ILLU_COMPAT_WAIT_SECONDS = 0


def b64_png(size=(64, 64), color=(10, 200, 30)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_basic_auth_takes_the_username_and_an_api_token(user, webui):
    assert webui.get("/sdapi/v1/sd-models").status_code == 200
    token = api_token_create(user=user, name="other")[1]
    for client in (basic("someone-else", token), basic(user.username, "alice-password-1")):
        response = client.get("/sdapi/v1/sd-models")
        assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Basic")
    anonymous = APIClient().get("/sdapi/v1/samplers")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"  # the platform's body
    assert client_for(user).get("/sdapi/v1/samplers").status_code == 200  # tokens work too
    assert basic(user.username, token).get("/api/v1/jobs/").status_code == 401  # A1111 only


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": "x", "sampler_name": "UniPC"}, "sampler_name"),
        ({"prompt": "x", "sampler_name": "Euler", "scheduler": "karras"}, "scheduler"),
        ({"prompt": "x", "scheduler": "exponential"}, "scheduler"),
        ({"prompt": "a <lora:nobody:0.5>"}, "prompt"),
        ({"prompt": "a <lora:nobody:heavy>"}, "prompt"),
        ({"prompt": "x", "styles": ["nope"]}, "styles"),
        ({"prompt": "x", "override_settings": {"sd_model_checkpoint": "v1-5"}},
         "override_settings.sd_model_checkpoint"),
        ({"prompt": "x", "enable_hr": True, "hr_scale": 1.5}, "hr_scale"),
        ({"prompt": "x", "enable_hr": True, "hr_upscaler": "ESRGAN_4x"}, "hr_upscaler"),
        ({"prompt": "x", "cfg_scale": 99}, "cfg_scale"),
        ({"prompt": "x", "width": 100}, "width"),
        ({"prompt": "x", "seed": -5}, "seed"),
        ({"prompt": "x", "batch_size": 9}, "batch_size"),
        ({"prompt": "x", "not_an_a1111_field": 1}, "not_an_a1111_field"),
    ],
)  # fmt: skip
def test_bad_txt2img_input_is_a_400_naming_the_a1111_field_and_stores_nothing(webui, body, field):
    response = webui.post("/sdapi/v1/txt2img", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not GenerationJob.objects.exists()


def test_bad_img2img_input_is_a_400_naming_the_field_and_stores_nothing(webui):
    for body, field in (
        ({"init_images": ["not base64!"], "prompt": "x"}, "init_images"),
        ({"init_images": [base64.b64encode(b"text").decode()], "prompt": "x"}, "init_images"),
        ({"init_images": [b64_png()], "prompt": "x", "width": 60, "height": 64}, "width"),
        ({"init_images": [b64_png()], "prompt": "x", "mask": "???"}, "mask"),
        ({"init_images": [b64_png()], "prompt": "x", "denoising_strength": 2},
         "denoising_strength"),
    ):  # fmt: skip
        response = webui.post("/sdapi/v1/img2img", body, format="json")
        assert response.status_code in (400, 415), response.content
        assert field in response.json()["error"]["fields"], response.content
    assert not GenerationJob.objects.exists() and not Upload.objects.exists()


def test_batches_become_jobs_of_at_most_eight_images_with_the_a1111_source(webui, user, no_wait):
    response = webui.post(
        "/sdapi/v1/txt2img",
        {"prompt": "many", "batch_size": 4, "n_iter": 3, "seed": 100, "width": 256,
         "height": 256, "sampler_name": "Euler a", "scheduler": "automatic", "steps": 3,
         "cfg_scale": 6.5, "subseed": -1, "restore_faces": False, "script_args": []},
        format="json",
    )  # fmt: skip
    assert response.status_code == 504 and response.json()["error"]["code"] == "timeout"
    jobs = list(GenerationJob.objects.filter(owner=user).order_by("params__seed"))
    assert [job.params["num_images"] for job in jobs] == [8, 4]
    assert jobs[1].params["seeds"][0] == 108
    assert {(job.source, job.kind, job.params["scheduler"], job.params["steps"],
             job.params["guidance_scale"]) for job in jobs} == {
        ("a1111", "text", "euler_a", 3, 6.5)
    }  # fmt: skip


def test_img2img_is_an_edit_of_an_upload_resized_to_width_and_height(webui, user, no_wait):
    mask = io.BytesIO()
    Image.new("L", (32, 32), 255).save(mask, format="PNG")
    response = webui.post(
        "/sdapi/v1/img2img",
        {"init_images": ["data:image/png;base64," + b64_png((32, 32))], "prompt": "a lake",
         "mask": base64.b64encode(mask.getvalue()).decode(), "width": 64, "height": 128,
         "denoising_strength": 0.4, "mask_blur": 2, "resize_mode": 1},
        format="json",
    )  # fmt: skip
    assert response.status_code == 504
    [job] = GenerationJob.objects.filter(owner=user)
    assert (job.kind, job.source, job.params["strength"]) == ("inpaint", "a1111", 0.4)
    assert (job.params["width"], job.params["height"]) == (64, 128)
    assert (job.params["mask_blur"], job.params["mask_padding"]) == (2, 0)
    source = Upload.objects.get(pk=job.params["source_upload"])
    assert (source.width, source.height) == (64, 128)


def test_options_keep_a_model_per_user_and_refuse_an_unknown_one(webui, user, make_user):
    assert webui.get("/sdapi/v1/options").json()["sd_model_checkpoint"] == "sdxl-base"
    refused = webui.post("/sdapi/v1/options", {"sd_model_checkpoint": "v1-5.ckpt"}, format="json")
    assert refused.status_code == 400 and "sd_model_checkpoint" in refused.json()["error"]["fields"]
    done = webui.post(
        "/sdapi/v1/options", {"sd_model_checkpoint": "Comic [abc123]", "CLIP_stop": 2},
        format="json",
    )  # fmt: skip
    assert done.status_code == 200 and done.content == b"null"
    assert webui.get("/sdapi/v1/options").json()["sd_model_checkpoint"] == "comic"
    other = make_user("carol")
    assert client_for(other).get("/sdapi/v1/options").json()["sd_model_checkpoint"] == "sdxl-base"


def test_interrupt_cancels_only_the_callers_a1111_jobs_and_skip_only_running_ones(
    webui, user, make_user, no_wait
):
    def txt2img(client, prompt):
        client.post("/sdapi/v1/txt2img", {"prompt": prompt, "width": 256, "height": 256},
                    format="json")  # fmt: skip

    txt2img(webui, "mine, queued")
    running = GenerationJob.objects.get(params__prompt="mine, queued")
    GenerationJob.objects.filter(pk=running.pk).update(status="running")
    txt2img(webui, "mine, also queued")
    own_api = client_for(user)
    own_api.post("/api/v1/jobs/", {"kind": "text", "prompt": "through the platform API"},
                 format="json")  # fmt: skip
    bob = make_user("bob")
    txt2img(client_for(bob), "bob's")

    webui.post("/sdapi/v1/skip")
    statuses = dict(GenerationJob.objects.values_list("params__prompt", "status"))
    assert statuses == {
        "mine, queued": "running",  # the worker sees the cancel flag at its next step
        "mine, also queued": "queued",
        "through the platform API": "queued",
        "bob's": "queued",
    }
    webui.post("/sdapi/v1/interrupt")
    statuses = dict(GenerationJob.objects.values_list("params__prompt", "status"))
    assert statuses["mine, also queued"] == "cancelled"
    assert statuses["through the platform API"] == "queued" and statuses["bob's"] == "queued"


def test_progress_of_a_caller_without_a_running_job_is_idle(webui, no_wait):
    idle = webui.get("/sdapi/v1/progress?skip_current_image=true").json()
    assert idle["progress"] == 0 and idle["state"]["job_count"] == 0
    webui.post("/sdapi/v1/txt2img", {"prompt": "x", "width": 256, "height": 256}, format="json")
    waiting = webui.get("/sdapi/v1/progress").json()
    assert waiting["state"]["job_count"] == 1 and waiting["current_image"] is None


def test_progress_of_a_running_job_follows_the_platforms_one_progress_rule(webui, api, no_wait):
    body = {"prompt": "x", "width": 256, "height": 256, "steps": 12}
    webui.post("/sdapi/v1/txt2img", body, format="json")
    job = GenerationJob.objects.get()
    GenerationJob.objects.filter(pk=job.pk).update(status=WorkStatus.RUNNING)
    before = webui.get("/sdapi/v1/progress").json()  # no report yet: the row's own account
    assert (before["state"]["sampling_step"], before["state"]["sampling_steps"]) == (0, 12)
    publish_event(str(job.pk), "progress", {"step": 5, "total": 12, "fraction": 0.4167})
    platform = api.get(f"/api/v1/jobs/{job.pk}/").json()["progress"]
    a1111 = webui.get("/sdapi/v1/progress?skip_current_image=true").json()
    assert (a1111["state"]["sampling_step"], a1111["progress"]) == (5, 0.4167)
    assert (platform["step"], platform["fraction"]) == (5, 0.4167)


def test_listings_answer_in_a1111_shapes_from_the_registries(webui, public_lora, live_worker):
    assert webui.get("/sdapi/v1/loras").json()[0]["name"] == public_lora.slug
    styles = webui.get("/sdapi/v1/prompt-styles").json()
    assert {"name", "prompt", "negative_prompt"} <= set(styles[0])
    assert "{prompt}" in styles[0]["prompt"]
    assert [item["name"] for item in webui.get("/sdapi/v1/schedulers").json()] == [
        "automatic", "karras"
    ]  # fmt: skip
    assert "Lanczos" in [item["name"] for item in webui.get("/sdapi/v1/upscalers").json()]
    assert webui.get("/sdapi/v1/sd-vae").json() == []
    assert webui.get("/sdapi/v1/embeddings").json() == {"loaded": {}, "skipped": {}}
    assert webui.get("/sdapi/v1/cmd-flags").json()["api"] is True
    memory = webui.get("/sdapi/v1/memory").json()
    assert memory["ram"]["total"] > 0
    assert memory["cuda"]["system"]["total"] == live_worker["memory_total"]
    assert webui.post("/sdapi/v1/refresh-checkpoints").content == b"null"


def test_a_controlnet_unit_becomes_the_jobs_control_input(webui, user, no_wait):
    unit = {"image": b64_png((256, 256)), "module": "canny", "weight": 0.7,
            "model": "diffusers_xl_canny_full [2b69fca4]", "enabled": True}  # fmt: skip
    response = webui.post(
        "/sdapi/v1/txt2img",
        {"prompt": "a statue", "width": 256, "height": 256,
         "alwayson_scripts": {"ControlNet": {"args": [unit, {"enabled": False}]},
                              "ADetailer": {"args": [False]}}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 504
    [job] = GenerationJob.objects.filter(owner=user)
    assert job.kind == "control"
    control = job.params["control"]
    assert (control["type"], control["scale"], control["preprocess"]) == ("canny", 0.7, True)
    assert Upload.objects.get(pk=control["image"], owner=user).width == 256
    refused = webui.post(
        "/sdapi/v1/txt2img",
        {"prompt": "x", "alwayson_scripts": {"controlnet": {"args": [{**unit, "module": "tile",
                                                                      "model": "tile"}]}}},
        format="json",
    )  # fmt: skip
    assert refused.status_code == 400
    assert "alwayson_scripts.controlnet" in refused.json()["error"]["fields"]


def test_a_registered_model_is_a_checkpoint_and_its_override_runs_the_job_on_it(
    webui, user, no_wait
):
    from catalog.models import BaseModel

    BaseModel.objects.create(
        slug="demo-tiny-b", name="B", source="demo:tiny-sdxl-b", sha256="ab" * 32
    )
    models = {model["title"]: model for model in webui.get("/sdapi/v1/sd-models").json()}
    assert models["demo-tiny-b"]["sha256"] == "ab" * 32
    assert "demo:" not in str(models)  # sources stay staff-only
    body = {"prompt": "x", "width": 256, "height": 256,
            "override_settings": {"sd_model_checkpoint": "demo-tiny-b [abababab]"}}  # fmt: skip
    webui.post("/sdapi/v1/txt2img", body, format="json")
    assert GenerationJob.objects.get(owner=user).params["model"] == "demo-tiny-b"
