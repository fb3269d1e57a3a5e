"""The OpenAI Images API driven by the official `openai` package against a live platform:
each call becomes ordinary jobs of the caller (source `openai`), answered in OpenAI's shapes."""

from __future__ import annotations

import base64
import io

import httpx
import numpy as np
import openai
import pytest
from PIL import Image

from compat.openai_images.translate import VARIATION_PROMPT

from .conftest import SIZE

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def client(live_platform):
    return openai.OpenAI(
        base_url=f"{live_platform.base_url}/v1",
        api_key=live_platform.alice.token,
        max_retries=0,
        timeout=120,
    )


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def gradient(side: int) -> Image.Image:
    ramp = np.linspace(0, 255, side, dtype=np.uint8)
    red, green = np.meshgrid(ramp, ramp)
    return Image.fromarray(np.stack([red, green, 255 - red], axis=-1))


def test_generate_answers_urls_or_base64_of_the_callers_new_text_job(client, live_platform):
    answer = client.images.generate(
        prompt="a lighthouse at dusk",
        size=f"{SIZE}x{SIZE}",
        n=2,
        user="reader-42",
        extra_body={"steps": 1, "seed": 7, "negative_prompt": "fog"},
    )
    assert len(answer.data) == 2 and answer.usage.output_tokens == 2
    for item in answer.data:
        fetched = httpx.get(item.url, timeout=30)
        assert fetched.status_code == 200
        assert Image.open(io.BytesIO(fetched.content)).size == (SIZE, SIZE)
        assert "a lighthouse at dusk" in item.revised_prompt
    job = live_platform.job_asking(live_platform.alice, "a lighthouse at dusk", source="openai")
    assert job["kind"] == "text" and job["status"] == "succeeded"
    assert job["source_user"] == "reader-42"
    assert job["params"]["seeds"] == [7, 8] and job["params"]["negative_prompt"] == "fog"
    assert {image["url"].split("?")[0] for image in job["images"]} == {
        item.url.split("?")[0] for item in answer.data
    }

    encoded = client.images.generate(
        prompt="a lighthouse at dawn",
        size=f"{SIZE}x{SIZE}",
        response_format="b64_json",
        output_format="jpeg",
        extra_body={"steps": 1},
    )
    [item] = encoded.data
    image = Image.open(io.BytesIO(base64.b64decode(item.b64_json)))
    assert image.format == "JPEG" and image.size == (SIZE, SIZE)


def test_edit_with_a_mask_repaints_only_near_its_transparent_pixels(client, live_platform):
    source = gradient(128)
    mask = Image.new("RGBA", source.size, (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 32, 32))  # OpenAI: transparent = edit here
    answer = client.images.edit(
        image=("photo.png", png(source), "image/png"),
        mask=("mask.png", png(mask), "image/png"),
        prompt="a red balloon",
        response_format="b64_json",
        extra_body={"steps": 2},
    )
    edited = pixels(base64.b64decode(answer.data[0].b64_json))
    original = np.asarray(source, dtype=np.int16)
    assert edited.shape == original.shape
    # The platform grows the mask by 32 px and feathers it by 8: beyond that, the source.
    assert np.abs(edited[80:, 80:] - original[80:, 80:]).max() <= 1
    assert np.abs(edited[:32, :32] - original[:32, :32]).mean() > 10
    job = live_platform.job_asking(live_platform.alice, "a red balloon", kind="inpaint")
    assert job["source"] == "openai" and job["status"] == "succeeded"


def test_edit_without_a_mask_varies_the_whole_image(client, live_platform):
    source = gradient(128)
    answer = client.images.edit(
        image=("photo.png", png(source), "image/png"),
        prompt="a blue balloon",
        size="64x64",
        response_format="b64_json",
        extra_body={"steps": 2, "strength": 0.9},
    )
    edited = pixels(base64.b64decode(answer.data[0].b64_json))
    resized = np.asarray(source.resize((64, 64), Image.Resampling.LANCZOS), dtype=np.int16)
    assert edited.shape == (64, 64, 3)
    assert np.abs(edited[40:, 40:] - resized[40:, 40:]).mean() > 10  # far corners change too
    job = live_platform.job_asking(live_platform.alice, "a blue balloon", source="openai")
    assert job["kind"] == "img2img" and job["params"]["strength"] == 0.9


def test_create_variation_makes_n_img2img_images_of_the_source(client, live_platform):
    answer = client.images.create_variation(
        image=("photo.png", png(gradient(64)), "image/png"),
        n=2,
        response_format="b64_json",
        extra_body={"steps": 2},
    )
    images = [Image.open(io.BytesIO(base64.b64decode(item.b64_json))) for item in answer.data]
    assert [image.size for image in images] == [(64, 64), (64, 64)]
    job = live_platform.job_asking(live_platform.alice, VARIATION_PROMPT, source="openai")
    assert job["kind"] == "img2img" and job["params"]["num_images"] == 2


def test_models_list_names_the_base_model_and_every_enabled_style(client, live_platform):
    ids = [model.id for model in client.models.list()]
    assert ids[0] == "sdxl-base"
    assert set(live_platform.styles) <= set(ids)


def test_bad_input_a_bad_key_and_an_unknown_model_raise_the_clients_own_errors(
    client, live_platform
):
    with pytest.raises(openai.BadRequestError) as bad_size:
        client.images.generate(prompt="x", size="100x100")
    assert bad_size.value.status_code == 400
    assert bad_size.value.body["param"] == "size"
    with pytest.raises(openai.NotFoundError) as unknown:
        client.images.generate(prompt="x", model="dall-e-3")
    assert unknown.value.body["code"] == "model_not_found"
    stranger = openai.OpenAI(
        base_url=f"{live_platform.base_url}/v1", api_key="not-a-token", max_retries=0
    )
    with pytest.raises(openai.AuthenticationError) as denied:
        stranger.images.generate(prompt="x")
    assert denied.value.body["code"] == "invalid_api_key"
    assert not live_platform.jobs(live_platform.alice, source="openai", status="queued")
