"""Admin forms: uploads go through the services; what they refuse shows on the form."""

import io

import pytest
import torch
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import ApiToken, Avatar, hash_token
from generation.models import StylePreset
from tests.fixtures.admin import png_upload

pytestmark = pytest.mark.django_db

LORA_ADD = "admin:characters_lora_add"


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


def renamed_torch_pickle() -> bytes:
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(2)}, buffer)
    return buffer.getvalue()


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


def character_form(lora_rows=(), **overrides) -> dict:
    data = {
        "name": "Luca",
        "description": "sea monster boy",
        "trigger_words": '["luca"]',
        "style": "",
        "consistency_threshold": "0.6",
        "scene_presets": '{"beach": "on the beach"}',
        "lora_links-TOTAL_FORMS": str(len(lora_rows)),
        "lora_links-INITIAL_FORMS": "0",
        "lora_links-MIN_NUM_FORMS": "0",
        "lora_links-MAX_NUM_FORMS": "1000",
        "references-TOTAL_FORMS": "0",
        "references-INITIAL_FORMS": "0",
        "references-MIN_NUM_FORMS": "0",
        "references-MAX_NUM_FORMS": "1000",
    }
    for index, (lora, weight) in enumerate(lora_rows):
        data[f"lora_links-{index}-lora"] = str(lora.pk)
        data[f"lora_links-{index}-weight"] = str(weight)
    return {**data, **overrides}


def test_api_token_add_shows_the_key_once_and_stores_its_hash(staff_client, user):
    response = staff_client.post(
        reverse("admin:accounts_apitoken_add"), {"user": str(user.pk), "name": "ops"}, follow=True
    )
    (text,) = [str(m) for m in response.context["messages"] if "copy it now" in str(m)]
    raw_key = text.split(": ", 1)[1].split(" ")[0]
    token = ApiToken.objects.get(name="ops")
    assert token.key_hash == hash_token(raw_key) and token.user == user


def test_avatar_add_goes_through_the_service_and_shows_its_refusals(staff_client, user):
    url = reverse("admin:accounts_avatar_add")

    def add(upload, **extra):
        return staff_client.post(url, {"owner": str(user.pk), "image": upload, **extra})

    not_image = add(SimpleUploadedFile("a.png", b"not an image at all"))
    assert "not an image" in " ".join(not_image.context["adminform"].form.errors["image"])
    faceless = add(png_upload())
    assert "exactly one face" in " ".join(faceless.context["adminform"].form.errors["image"])
    assert not Avatar.objects.exists()

    assert add(png_upload(), allow_no_face="on").status_code == 302
    avatar = Avatar.objects.get(owner=user)
    assert avatar.primary and avatar.face_count == 0  # kept, marked as having no face
    assert default_storage.exists(avatar.image.name)
