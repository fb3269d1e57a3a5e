"""One row of every model the admin shows, and a logged-in curator."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import Quota
from accounts.services import api_token_create, avatar_create
from characters.models import LoraCombination, LoraCombinationEntry
from characters.services import character_create, reference_add
from generation.models import GeneratedImage, GenerationJob, JobStatus, StylePreset, WebhookDelivery
from generation.uploads import upload_create
from tests.characters.test_lora_registry import lora_bytes, register
from training.models import TrainingRun


def png_bytes(size=(16, 12), color=(200, 120, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def png_upload(name: str = "photo.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(), content_type="image/png")


def make_job(owner, status=JobStatus.SUCCEEDED, **fields) -> GenerationJob:
    return GenerationJob.objects.create(
        owner=owner, kind="text", status=status, params={"prompt": "a lighthouse"}, **fields
    )


def make_image(job, index=0, score=None, thumbnail=True, **fields) -> GeneratedImage:
    image = GeneratedImage(
        job=job, index=index, width=16, height=12, seed=7, consistency_score=score,
        manifest={"model": "demo:tiny-sdxl", "seed": 7}, **fields,
    )  # fmt: skip
    image.file.save("image.png", ContentFile(png_bytes()), save=False)
    if thumbnail:
        image.thumbnail.save("thumb.webp", ContentFile(png_bytes((4, 3))), save=False)
    image.save()
    return image


@pytest.fixture
def staff(make_user):
    return make_user("curator", staff=True)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def rows(user):
    """One saved row per admin-registered model of this project (plus the seeded styles)."""
    lora, _ = register(lora_bytes(), slug="hero")
    combination = LoraCombination.objects.create(slug="beach-day", name="Beach day")
    LoraCombinationEntry.objects.create(combination=combination, lora=lora, weight=0.7)
    character = character_create(
        owner=user, name="Luca", default_loras=[{"lora": "hero", "weight": 0.7}]
    )
    reference_add(character=character, upload=png_upload())
    job = make_job(user, finished_at=None)
    return {
        "lora": lora,
        "loracombination": combination,
        "character": character,
        "stylepreset": StylePreset.objects.get(slug="comic"),
        "generationjob": job,
        "generatedimage": make_image(job, score=0.42),
        "avatar": avatar_create(owner=user, upload=png_upload(), allow_no_face=True),
        "quota": Quota.objects.create(user=user, images_per_day=10),
        "apitoken": api_token_create(user=user, name="ci")[0],
        "user": user,
        "group": Group.objects.create(name="curators"),
        "upload": upload_create(owner=user, upload=png_upload()),
        "webhookdelivery": WebhookDelivery.objects.create(
            job=job, event="completed", url="https://example.com/hook", payload={"x": 1}
        ),
        "trainingrun": TrainingRun.objects.create(
            owner=user,
            character=character,
            name="Luca LoRA",
            lora_type="character",
            trigger_word="luca",
            params={"steps": 10},
            loss_history=[1.0, 0.5],
            lora=lora,
        ),  # fmt: skip
    }
