"""The `turbo` quality preset as a style preset chooses it: few steps, low guidance, a few-step
sampler, and the distilled LoRA when one is configured."""

from __future__ import annotations

import pytest

from catalog.models import StylePreset
from generation.params import resolve_params

pytestmark = pytest.mark.django_db


def params(user, **requested):
    return resolve_params(user, "text", {"prompt": "a fox", **requested})


def test_a_turbo_style_samples_in_few_steps_with_a_few_step_sampler(user):
    StylePreset.objects.create(slug="quick", name="Quick", quality="turbo")
    resolved = params(user, style="quick")
    assert (resolved["quality"], resolved["steps"], resolved["guidance_scale"]) == ("turbo", 6, 1.0)
    assert resolved["scheduler"] == "euler_trailing" and resolved["loras"] == []
    standard = params(user)
    assert (standard["steps"], standard["scheduler"]) == (30, "euler")


def test_a_turbo_style_may_choose_its_few_step_sampler(user):
    StylePreset.objects.create(slug="lcm", name="LCM", quality="turbo", scheduler="lcm", steps=4)
    resolved = params(user, style="lcm")
    assert (resolved["scheduler"], resolved["steps"]) == ("lcm", 4)


def test_the_configured_distilled_lora_joins_every_turbo_job(user, public_lora, settings):
    settings.ILLU_TURBO_LORA = public_lora.slug
    resolved = params(user, quality="turbo")
    assert [lora["slug"] for lora in resolved["loras"]] == [public_lora.slug]
    assert resolved["loras"][0]["weight"] == 1.0
    assert params(user, quality="standard")["loras"] == []
