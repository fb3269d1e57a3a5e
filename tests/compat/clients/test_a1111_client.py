"""The AUTOMATIC1111 API driven by `webuiapi` (an A1111 client, HTTP Basic with the username
and an API token) against a live platform: each call becomes ordinary jobs of the caller
(source `a1111`), answered in A1111's shapes."""

from __future__ import annotations

import pytest
import webuiapi
from PIL import Image

from .conftest import SIZE

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def webui_for(live_platform, caller) -> webuiapi.WebUIApi:
    api = webuiapi.WebUIApi(host="127.0.0.1", port=live_platform.port, steps=1)
    api.set_auth(caller.username, caller.token)
    return api


@pytest.fixture(scope="module")
def webui(live_platform):
    return webui_for(live_platform, live_platform.alice)


def test_txt2img_takes_lora_tags_into_the_job_and_answers_in_a1111_shape(webui, live_platform):
    result = webui.txt2img(
        prompt=f"a knight <lora:{live_platform.lora}:0.7>, castle",
        negative_prompt="blur",
        seed=11,
        width=SIZE,
        height=SIZE,
        batch_size=2,
        sampler_name="DPM++ 2M Karras",
    )
    assert [image.size for image in result.images] == [(SIZE, SIZE), (SIZE, SIZE)]
    assert result.info["seed"] == 11 and result.info["all_seeds"] == [11, 12]
    assert result.info["prompt"] == "a knight, castle"
    assert "Lora hashes" in result.info["infotexts"][0]
    assert "Sampler: DPM++ 2M" in result.info["infotexts"][0]
    job = live_platform.job_asking(live_platform.alice, "a knight, castle", source="a1111")
    assert job["kind"] == "text" and job["status"] == "succeeded"
    assert [(lora["slug"], lora["weight"]) for lora in job["params"]["loras"]] == [
        (live_platform.lora, 0.7)
    ]
    assert job["params"]["scheduler"] == "dpmpp_2m"
    assert job["params"]["negative_prompt"] == "blur"


def test_txt2img_with_enable_hr_answers_the_upscale_jobs_images(webui, live_platform):
    result = webui.txt2img(
        prompt="a tower", width=SIZE, height=SIZE, enable_hr=True, hr_scale=2,
        hr_upscaler="Lanczos", seed=3,
    )  # fmt: skip
    [image] = result.images
    assert image.size == (2 * SIZE, 2 * SIZE) and result.info["all_seeds"] == [3]
    [upscale] = live_platform.jobs(live_platform.alice, source="a1111", kind="upscale")
    assert upscale["status"] == "succeeded" and upscale["params"]["scale"] == 2


def test_img2img_without_and_with_a_mask(webui, live_platform):
    source = Image.new("RGB", (64, 64), (30, 120, 200))
    varied = webui.img2img(
        images=[source], prompt="a pond", width=64, height=64, denoising_strength=0.9, steps=2
    )
    assert [image.size for image in varied.images] == [(64, 64)]
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 16, 16))
    inpainted = webui.img2img(
        images=[source], mask_image=mask, prompt="a frog", width=64, height=64,
        denoising_strength=1.0, steps=2, mask_blur=0,
    )  # fmt: skip
    [image] = inpainted.images
    # Outside the mask (A1111 never grows it) the source stays.
    assert image.convert("RGB").getpixel((60, 60)) == (30, 120, 200)
    pond = live_platform.job_asking(live_platform.alice, "a pond", source="a1111")
    frog = live_platform.job_asking(live_platform.alice, "a frog", source="a1111")
    assert (pond["kind"], frog["kind"]) == ("img2img", "inpaint")
    assert pond["params"]["strength"] == 0.9


def test_registry_listings_and_the_model_option_per_user(webui, live_platform):
    titles = webui.util_get_model_names()
    assert "sdxl-base" in titles and set(live_platform.styles) <= set(titles)
    assert live_platform.lora in [lora["name"] for lora in webui.get_loras()]
    samplers = webui.util_get_sampler_names()
    assert {"Euler", "Euler a", "DPM++ 2M", "DDIM", "LCM"} <= set(samplers)
    assert "UniPC" not in samplers
    assert webui.get_scripts() == {"txt2img": [], "img2img": []}
    assert {style["name"] for style in webui.get_prompt_styles()} == set(live_platform.styles)
    style = live_platform.styles[0]
    webui.util_set_model(style)
    assert webui.util_get_current_model() == style
    bob = webui_for(live_platform, live_platform.bob)
    assert bob.util_get_current_model() == "sdxl-base"  # options are per user
    result = webui.txt2img(prompt="a styled harbour", width=SIZE, height=SIZE)
    assert result.info["sd_model_name"] == style
    job = live_platform.job_asking(live_platform.alice, "a styled harbour", source="a1111")
    assert job["params"]["style"] == style
    webui.util_set_model("sdxl-base")
