"""Admin forms: uploads go through the services; what they refuse shows on the form."""

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from characters.models import Character
from tests.catalog.services.test_lora_registry import lora_bytes, register
from tests.fixtures.admin import png_upload

pytestmark = pytest.mark.django_db


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


def test_character_add_with_default_lora_and_reference(staff_client, user):
    lora, _ = register(lora_bytes(), slug="hero")
    data = character_form([(lora, 0.7)], owner=str(user.pk), new_reference=png_upload())
    response = staff_client.post(reverse("admin:characters_character_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    character = Character.objects.get(owner=user, name="Luca")
    assert character.trigger_words == ["luca"] and character.consistency_threshold == 0.6
    assert [(link.lora.slug, link.weight) for link in character.lora_links.all()] == [("hero", 0.7)]
    (reference,) = character.references.all()
    assert default_storage.exists(reference.image.name)


def test_character_default_lora_outside_its_range_is_refused(staff_client, user):
    lora, _ = register(lora_bytes(), slug="hero")
    data = character_form([(lora, 3.0)], owner=str(user.pk))
    response = staff_client.post(reverse("admin:characters_character_add"), data)
    assert response.status_code == 200 and b"Must be within 0.0..1.5" in response.content
    assert not Character.objects.exists()


def test_character_change_removes_a_reference_and_its_file(
    staff_client, rows, django_capture_on_commit_callbacks
):
    character = rows["character"]
    reference = character.references.get()
    assert default_storage.exists(reference.image.name)
    data = character_form(
        owner=str(character.owner_id),
        **{
            "references-TOTAL_FORMS": "1",
            "references-INITIAL_FORMS": "1",
            "references-0-id": str(reference.pk),
            "references-0-character": str(character.pk),
            "references-0-DELETE": "on",
        },
    )
    url = reverse("admin:characters_character_change", args=[character.pk])
    with django_capture_on_commit_callbacks(execute=True):
        assert staff_client.post(url, data).status_code == 302
    assert not character.references.exists()
    assert not default_storage.exists(reference.image.name)
    assert not character.lora_links.exists()  # the form sent no default LoRA rows
