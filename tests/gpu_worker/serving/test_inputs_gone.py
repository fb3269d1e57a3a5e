"""Inputs removed or disabled while a job waits: the worker fails the job with
``invalid_input`` naming what is gone, before any GPU work, on the solo path and on the batch
path (where only the member that lost its input fails)."""

from __future__ import annotations

import pytest
from django.core.files import File

from accounts.services import avatar_create, avatar_delete
from catalog.services import lora_register, lora_set_enabled
from characters.services import character_create, character_delete, reference_add
from generation.models import GenerationJob, Upload
from generation.services import job_create
from generation.uploads import upload_create
from gpu_worker import tasks
from tests import photos

pytestmark = pytest.mark.django_db(transaction=True)

SMALL = {"width": 64, "height": 64, "steps": 2, "seed": 3}


@pytest.fixture
def owner(make_user):
    return make_user()


def character_of(owner, name: str):
    character = character_create(owner=owner, name=name)
    reference_add(character=character, upload=photos.upload_of(photos.astronaut()))
    return character


def run_and_reload(job: GenerationJob) -> GenerationJob:
    tasks.run_generation_job(str(job.id))
    job.refresh_from_db()
    return job


def assert_failed_naming(job: GenerationJob, *words: str) -> None:
    assert job.status == "failed", job.error
    assert job.error["code"] == "invalid_input"
    for word in words:
        assert word in job.error["message"], job.error["message"]
    assert not job.images.exists()


def test_a_deleted_character_fails_its_queued_job_naming_the_character(owner, empty_queues):
    character = character_of(owner, "Mira")
    job, _ = job_create(
        owner=owner,
        kind="character",
        params={**SMALL, "prompt": "x", "character": str(character.id)},
    )
    character_id = str(character.id)
    character_delete(character=character)

    assert_failed_naming(run_and_reload(job), "character", character_id, "deleted")


@pytest.mark.parametrize("change", ["disabled", "deleted"])
def test_a_lora_disabled_or_deleted_while_queued_fails_the_job_naming_it(
    owner, empty_queues, demo_models, change
):
    with open(demo_models["lora_a"], "rb") as handle:
        lora, _ = lora_register(
            upload=File(handle, name="ink.safetensors"), slug="ink-wash", name="Ink", type="style"
        )
    job, _ = job_create(
        owner=owner,
        kind="text",
        params={**SMALL, "prompt": "x", "loras": [{"lora": "ink-wash", "weight": 1.0}]},
    )
    if change == "disabled":
        lora_set_enabled(lora=lora, enabled=False)
    else:
        lora.delete()

    assert_failed_naming(run_and_reload(job), "LoRA", "ink-wash", change)


def test_a_deleted_avatar_upload_or_mask_fails_each_job_naming_it(owner, empty_queues):
    avatar = avatar_create(owner=owner, upload=photos.upload_of(photos.astronaut()))
    face = photos.astronaut().resize((128, 128))
    kept, control, source, mask = (
        upload_create(owner=owner, upload=photos.upload_of(face)) for _ in range(4)
    )
    jobs = {
        "avatar": job_create(owner=owner, kind="memory", params={**SMALL, "prompt": "x"})[0],
        "control image": job_create(
            owner=owner,
            kind="control",
            params={**SMALL, "prompt": "x", "control": {"type": "canny", "image": str(control.id)}},
        )[0],
        "source image": job_create(
            owner=owner,
            kind="img2img",
            params={"prompt": "x", "steps": 2, "source_upload": str(source.id)},
        )[0],
        "mask": job_create(
            owner=owner,
            kind="inpaint",
            params={
                "prompt": "x",
                "steps": 2,
                "source_upload": str(kept.id),
                "mask_upload": str(mask.id),
            },
        )[0],  # fmt: skip
    }
    avatar_delete(avatar=avatar)
    Upload.objects.filter(pk__in=[control.pk, source.pk, mask.pk]).delete()

    for what, job in jobs.items():
        assert_failed_naming(run_and_reload(job), what)


def test_a_batch_member_whose_character_is_gone_fails_alone_and_the_others_run(owner, empty_queues):
    kept, dropped = character_of(owner, "Ada"), character_of(owner, "Bo")
    jobs = [
        job_create(
            owner=owner,
            kind="character",
            params={**SMALL, "prompt": "on a boat", "character": str(character.id)},
        )[0]
        for character in (kept, dropped)
    ]
    dropped_id = str(dropped.id)
    character_delete(character=dropped)

    outcome = tasks.run_generation_job(str(jobs[0].id))

    assert outcome["batch"] == [str(job.id) for job in jobs]  # both claimed into one pass
    survivor, lost = (GenerationJob.objects.get(pk=job.pk) for job in jobs)
    assert survivor.status == "succeeded", survivor.error
    assert survivor.images.count() == 1
    assert_failed_naming(lost, "character", dropped_id)
