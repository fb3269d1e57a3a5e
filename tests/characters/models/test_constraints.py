"""Database constraints: each one refuses the row it exists to refuse."""

import pytest
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from accounts.models import Avatar
from catalog.models import Lora, StylePreset
from characters.models import Character
from generation.models import GeneratedImage, GenerationJob

pytestmark = pytest.mark.django_db


def refused(create) -> bool:
    try:
        with transaction.atomic():
            create()
    except IntegrityError:
        return True
    return False


def make_lora(**overrides):
    fields = dict(slug="l", name="L", type="style", sha256="a" * 64, size_bytes=10, file="loras/x")
    return Lora.objects.create(**{**fields, **overrides})


def test_one_primary_avatar_per_user(user):
    Avatar.objects.create(owner=user, image="a.png", width=1, height=1, primary=True)
    Avatar.objects.create(owner=user, image="b.png", width=1, height=1, primary=False)
    assert refused(
        lambda: Avatar.objects.create(owner=user, image="c.png", width=1, height=1, primary=True)
    )


def test_lora_constraints(user):
    assert refused(lambda: make_lora(type="sticker"))
    assert refused(lambda: make_lora(default_weight=2.0, max_weight=1.5))
    assert refused(lambda: make_lora(is_public=False, owner=None))
    assert refused(lambda: make_lora(size_bytes=0))
    make_lora()
    assert refused(lambda: make_lora(slug="other"))  # same sha256
    assert not refused(lambda: make_lora(slug="mine", sha256="b" * 64, is_public=False, owner=user))


def test_character_constraints(user):
    Character.objects.create(owner=user, name="Luca")
    assert refused(lambda: Character.objects.create(owner=user, name="Luca"))
    assert refused(
        lambda: Character.objects.create(owner=user, name="X", consistency_threshold=1.5)
    )


def test_style_preset_constraints():
    assert refused(
        lambda: StylePreset.objects.create(slug="a", name="A", prompt_template="no slot")
    )
    assert refused(lambda: StylePreset.objects.create(slug="b", name="B", ip_adapter_scale=1.2))
    assert refused(lambda: StylePreset.objects.create(slug="c", name="C", steps=0))
    assert refused(lambda: StylePreset.objects.create(slug="d", name="D", scheduler="plms"))


def test_job_and_image_constraints(user):
    assert refused(lambda: GenerationJob.objects.create(owner=user, kind="video"))
    job = GenerationJob.objects.create(owner=user, kind="text")
    image = dict(job=job, width=8, height=8, seed=1, file=ContentFile(b"x", name="x.png"))
    assert refused(lambda: GeneratedImage.objects.create(**image, consistency_score=1.2))
    assert refused(lambda: GeneratedImage.objects.create(**image, review_status="maybe"))
    GeneratedImage.objects.create(**image)
    assert refused(lambda: GeneratedImage.objects.create(**image))  # same index twice


def test_initial_presets_exist_with_the_replaced_services_defaults():
    memory = StylePreset.objects.get(slug="memory")
    assert "nostalgic" in memory.prompt_template and memory.ip_adapter_scale == 0.33
    assert memory.negative_prompt == "error, glitch, mistake" and memory.steps == 50
    assert StylePreset.objects.get(slug="comic").controlnet_weights["canny"] == 0.9
    assert StylePreset.objects.get(slug="watercolor").controlnet_weights["scribble"] == 0.8
