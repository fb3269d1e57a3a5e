"""Catalog admin forms: LoRA uploads go through ``lora_register`` and style presets' ControlNet
weights through the registry's rule; what they refuse shows on the form."""

import io
import pickle

import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog.models import Lora, StylePreset
from tests.catalog.services.test_lora_registry import lora_bytes, register, stored_lora_keys

pytestmark = pytest.mark.django_db

LORA_ADD = "admin:catalog_lora_add"


def lora_form(data: bytes, name: str = "hero.safetensors", **overrides):
    return {
        "file": SimpleUploadedFile(name, data),
        "slug": "hero",
        "name": "Hero",
        "type": "character",
        "base_model": "sdxl",
        "trigger_words": "hero, red cape",
        "default_weight": "0.8",
        "min_weight": "0",
        "max_weight": "1.5",
        "is_public": "on",
        **overrides,
    }


def test_lora_upload_stores_a_valid_safetensors(staff_client):
    data = lora_bytes()
    response = staff_client.post(reverse(LORA_ADD), lora_form(data))
    assert response.status_code == 302
    lora = Lora.objects.get(slug="hero")
    assert lora.trigger_words == ["hero", "red cape"] and lora.size_bytes == len(data)
    with lora.file.open("rb") as handle:
        assert handle.read() == data


def renamed_torch_pickle() -> bytes:
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("data", [renamed_torch_pickle(), pickle.dumps({"a": 1})])
def test_lora_upload_of_a_renamed_pickle_shows_the_error_and_stores_nothing(staff_client, data):
    response = staff_client.post(reverse(LORA_ADD), lora_form(data))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "not a safetensors file" in " ".join(errors["file"])
    assert "hero.safetensors" in " ".join(errors["file"])  # the name the curator chose
    assert b"not a safetensors file" in response.content
    assert Lora.objects.count() == 0 and stored_lora_keys() == []


def test_lora_upload_of_a_registered_file_says_so_and_adds_nothing(staff_client):
    register(lora_bytes(), slug="hero")
    response = staff_client.post(reverse(LORA_ADD), lora_form(lora_bytes(), slug="again"))
    errors = response.context["adminform"].form.errors
    assert "already registered as 'hero'" in " ".join(errors["file"])
    assert Lora.objects.count() == 1 and len(stored_lora_keys()) == 1


def test_lora_upload_with_a_taken_slug_shows_it_on_the_slug(staff_client):
    register(lora_bytes(1), slug="hero")
    response = staff_client.post(reverse(LORA_ADD), lora_form(lora_bytes(2)))
    assert response.status_code == 200
    assert "slug" in response.context["adminform"].form.errors
    assert Lora.objects.count() == 1 and len(stored_lora_keys()) == 1


def style_form(preset: StylePreset, **overrides) -> dict:
    data = {
        "name": preset.name,
        "slug": preset.slug,
        "enabled": "on",
        "prompt_template": preset.prompt_template,
        "negative_prompt": preset.negative_prompt,
        "quality": preset.quality,
        "steps": "",
        "scheduler": preset.scheduler,
        "ip_adapter_scale": "",
        "controlnet_weights": "{}",
    }
    return {**data, **overrides}


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ('{"canny": 0.9, "lineart": 1}', "Unknown control type &#x27;lineart&#x27;"),
        ('{"depth": 2.5}', "within 0.0..2.0"),
        ('{"pose": "strong"}', "must be a number"),
        ('["canny"]', "Must be a mapping"),
    ],
)
def test_style_controlnet_weights_are_validated(staff_client, weights, message):
    preset = StylePreset.objects.get(slug="comic")
    url = reverse("admin:catalog_stylepreset_change", args=[preset.pk])
    response = staff_client.post(url, style_form(preset, controlnet_weights=weights))
    assert response.status_code == 200 and message.encode() in response.content
    assert StylePreset.objects.get(pk=preset.pk).controlnet_weights == preset.controlnet_weights


def test_style_controlnet_weights_are_saved_when_valid(staff_client):
    preset = StylePreset.objects.get(slug="comic")
    url = reverse("admin:catalog_stylepreset_change", args=[preset.pk])
    weights = '{"canny": 0.0, "normal": 2, "scribble": 1.25}'
    assert staff_client.post(url, style_form(preset, controlnet_weights=weights)).status_code == 302
    saved = StylePreset.objects.get(pk=preset.pk).controlnet_weights
    assert saved == {"canny": 0.0, "normal": 2, "scribble": 1.25}
