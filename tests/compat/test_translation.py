"""The translation tables and helpers of compat, without a server: LoRA tags, A1111 sampler
names, OpenAI's mask convention and error shape, field renaming."""

from __future__ import annotations

import pytest
from PIL import Image

from compat.errors import renamed_fields
from compat.images import mask_from_transparency, mask_from_white
from compat.openai_images.errors import openai_error
from compat.prompts import BadLoraTag, LoraTag, split_lora_tags
from compat.samplers import UnknownName, scheduler_for, upscale_method_for
from core.errors import InvalidParams


@pytest.mark.parametrize(
    ("prompt", "text", "tags"),
    [
        ("a knight <lora:hero:0.7>, castle", "a knight, castle", [LoraTag("hero", 0.7)]),
        ("<lora:hero>a knight", "a knight", [LoraTag("hero", 1.0)]),
        ("<LORA:hero:0.5:0.2> x", "x", [LoraTag("hero", 0.5)]),
        ("<lora:a:1>, <lora:b:-0.5>, x", "x", [LoraTag("a", 1.0), LoraTag("b", -0.5)]),
        ("x <lora:a:0.2> <lora:a:0.9>", "x", [LoraTag("a", 0.9)]),
        ("plain , text", "plain , text", []),
    ],
)
def test_lora_tags_leave_the_prompt_and_become_weighted_loras(prompt, text, tags):
    assert split_lora_tags(prompt) == (text, tags)


def test_a_lora_weight_that_is_no_number_is_refused():
    with pytest.raises(BadLoraTag, match="heavy"):
        split_lora_tags("<lora:hero:heavy>")


@pytest.mark.parametrize(
    ("sampler", "schedule", "scheduler"),
    [
        ("Euler a", None, "euler_a"),
        ("k_euler", "automatic", "euler"),
        ("DPM++ 2M", "Karras", "dpmpp_2m"),
        ("dpm++ 2m karras", "", "dpmpp_2m"),
        ("DDIM", None, "ddim"),
        ("LCM", None, "lcm"),
        (None, None, None),
        (None, "karras", "dpmpp_2m"),
    ],
)
def test_a1111_samplers_map_to_the_platforms_schedulers(sampler, schedule, scheduler):
    assert scheduler_for(sampler, schedule) == scheduler


@pytest.mark.parametrize(
    ("sampler", "schedule", "field"),
    [("Heun", None, "sampler_name"), ("UniPC", None, "sampler_name"),
     ("Euler", "karras", "scheduler"), ("Euler", "sgm_uniform", "scheduler")],
)  # fmt: skip
def test_samplers_the_platform_lacks_are_unknown_never_replaced(sampler, schedule, field):
    with pytest.raises(UnknownName) as refused:
        scheduler_for(sampler, schedule)
    assert refused.value.field == field


def test_hires_upscalers_map_to_the_two_upscale_methods():
    assert [upscale_method_for(name) for name in (None, "Latent (bicubic)", "Lanczos", "None")] == [
        "tiled", "tiled", "lanczos", "lanczos"
    ]  # fmt: skip
    with pytest.raises(UnknownName):
        upscale_method_for("R-ESRGAN 4x+")


def test_openais_transparent_pixels_become_the_platforms_white_mask():
    mask = Image.new("RGBA", (8, 8), (0, 0, 0, 255))
    mask.putpixel((1, 2), (255, 255, 255, 0))
    mask.putpixel((3, 3), (0, 0, 0, 128))  # half transparent: kept
    repaint = mask_from_transparency(mask, source_size=(8, 8))
    assert repaint.getpixel((1, 2)) == 255 and repaint.getpixel((3, 3)) == 0
    assert repaint.histogram()[255] == 1
    with pytest.raises(InvalidParams, match="nothing to edit"):
        mask_from_transparency(Image.new("RGBA", (8, 8), (0, 0, 0, 255)), source_size=(8, 8))
    inverted = mask_from_white(Image.new("L", (4, 4), 0), invert=True)
    assert inverted.getpixel((0, 0)) == 255


def test_errors_take_openais_shape_and_the_clients_field_names():
    fields = renamed_fields(
        {"num_images": ["At most 8."], "loras.0.weight": ["Too high."], "prompt": ["Required."]},
        {"num_images": "n", "loras": "prompt"},
    )
    assert fields == {"n": ["At most 8."], "prompt": ["Too high.", "Required."]}
    body = openai_error(400, {"code": "invalid", "message": "Invalid input.", "fields": fields})
    assert body["error"] == {
        "message": "Invalid input.", "type": "invalid_request_error", "param": "n",
        "code": "invalid", "fields": fields,
    }  # fmt: skip
    throttled = openai_error(429, {"code": "throttled", "message": "Slow down."})["error"]
    assert (throttled["type"], throttled["code"], throttled["param"]) == (
        "requests", "rate_limit_exceeded", None
    )  # fmt: skip
    assert openai_error(401, {"code": "not_authenticated", "message": "x"})["error"]["code"] == (
        "invalid_api_key"
    )
    assert openai_error(500, {"code": "internal", "message": "x"})["error"]["type"] == (
        "server_error"
    )
