"""Data survives the move: a PostgreSQL database filled under the schema before the catalog
and the work row (style presets in generation, LoRAs and combinations in characters, jobs and
trainings with their own status fields) is migrated to today's schema, and every row reads
back, foreign keys included, through today's models. Runs on PostgreSQL only (as CI does)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="migrates a PostgreSQL database (the CI database); SQLite does not run it",
    ),
    pytest.mark.django_db(transaction=True),
]

# The last migration of each app before the catalog and the work row.
BEFORE = [
    ("accounts", "0002_quota_avatar"),
    ("characters", "0002_initial"),
    ("generation", "0005_edit_job_kinds"),
    ("training", "0001_initial"),
    ("catalog", None),
]


def migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


def fill(apps) -> dict:
    """One of everything, written with the models of the old schema."""
    model = apps.get_model
    alice = model("accounts", "User").objects.create(username="alice", email="a@example.com")
    avatar = model("accounts", "Avatar").objects.create(
        owner=alice, image="avatars/a.png", width=8, height=8, primary=True, face_count=1,
        face_embedding=[0.5, 0.5], face_backend="dlib",
    )  # fmt: skip
    preset = model("generation", "StylePreset").objects.create(
        slug="ink", name="Ink", prompt_template="ink {prompt}", quality="high", steps=20,
        scheduler="ddim", ip_adapter_scale=0.4, controlnet_weights={"canny": 0.7},
    )  # fmt: skip
    lora = model("characters", "Lora").objects.create(
        slug="hero", name="Hero", type="character", file="loras/hero.safetensors",
        sha256="a" * 64, size_bytes=1234, trigger_words=["hero"], owner=alice, is_public=False,
    )  # fmt: skip
    combination = model("characters", "LoraCombination").objects.create(slug="duo", name="Duo")
    model("characters", "LoraCombinationEntry").objects.create(
        combination=combination, lora=lora, weight=0.6
    )
    character = model("characters", "Character").objects.create(
        owner=alice, name="Luca", style=preset, trigger_words=["luca"], reference_embedding=[1.0]
    )
    model("characters", "CharacterLora").objects.create(character=character, lora=lora, weight=0.7)
    reference = model("characters", "ReferenceImage").objects.create(
        character=character, image="references/r.png", width=8, height=8, face_count=1
    )
    job = model("generation", "GenerationJob").objects.create(
        owner=alice, kind="character", status="failed", params={"steps": 9, "prompt": "boat"},
        style=preset, character=character, avatar=avatar, timings={"total_ms": 5},
        error={"code": "timeout", "message": "too long"}, attempts=2, worker_name="w1",
        idempotency_key="k1", webhook_url="https://example.com/hook",
    )  # fmt: skip
    image = model("generation", "GeneratedImage").objects.create(
        job=job, index=0, file="generated/x.png", width=8, height=8, seed=42,
        consistency_score=0.8, manifest={"seed": 42},
    )  # fmt: skip
    upload = model("generation", "Upload").objects.create(
        owner=alice, image="uploads/u.png", width=8, height=8
    )
    delivery = model("generation", "WebhookDelivery").objects.create(
        job=job, event="completed", url="https://example.com/hook", payload={"x": 1}
    )
    run = model("training", "TrainingRun").objects.create(
        owner=alice, character=character, name="Luca LoRA", lora_type="character",
        trigger_word="luca", params={"steps": 30}, status="succeeded", lora=lora,
        attempts=1, checkpoint_step=30, loss_history=[1.0, 0.5], final_loss=0.5,
    )  # fmt: skip
    content_type = model("contenttypes", "ContentType").objects.get_or_create(
        app_label="characters", model="lora"
    )[0]
    return {
        "alice": alice.pk, "avatar": avatar.pk, "preset": preset.pk, "lora": lora.pk,
        "combination": combination.pk, "character": character.pk, "reference": reference.pk,
        "job": job.pk, "image": image.pk, "upload": upload.pk, "delivery": delivery.pk,
        "run": run.pk, "lora_content_type": content_type.pk,
    }  # fmt: skip


def test_rows_of_the_old_schema_read_back_through_todays_models():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    old = migrate(BEFORE)
    try:
        ids = fill(old.loader.project_state([node for node in BEFORE if node[1]]).apps)
    finally:
        migrate(latest)

    from django.contrib.contenttypes.models import ContentType

    from accounts.models import Avatar
    from catalog.models import Lora, LoraCombination, StylePreset
    from characters.models import Character, ReferenceImage
    from generation.models import GeneratedImage, GenerationJob, Upload, WebhookDelivery
    from training.models import TrainingRun
    from work.models import WorkStatus

    preset = StylePreset.objects.get(pk=ids["preset"])
    assert (preset.slug, preset.steps, preset.controlnet_weights) == ("ink", 20, {"canny": 0.7})
    lora = Lora.objects.get(pk=ids["lora"])
    assert (lora.sha256, lora.owner_id, lora.is_public) == ("a" * 64, ids["alice"], False)
    combination = LoraCombination.objects.get(pk=ids["combination"])
    assert [(e.lora_id, e.weight) for e in combination.entries.all()] == [(lora.pk, 0.6)]
    character = Character.objects.get(pk=ids["character"])
    assert character.style == preset and list(character.default_loras.all()) == [lora]
    assert character.lora_links.get().weight == 0.7 and character.reference_embedding == [1.0]
    assert ReferenceImage.objects.get(pk=ids["reference"]).character == character
    job = GenerationJob.objects.get(pk=ids["job"])
    assert job.status == WorkStatus.FAILED and job.is_finished
    assert (job.style, job.character, job.avatar_id) == (preset, character, ids["avatar"])
    assert job.error == {"code": "timeout", "message": "too long"} and job.attempts == 2
    assert job.params["steps"] == 9 and job.idempotency_key == "k1" and job.cancel_at is None
    image = GeneratedImage.objects.get(pk=ids["image"])
    assert (image.job, image.seed, image.consistency_score) == (job, 42, 0.8)
    assert Upload.objects.get(pk=ids["upload"]).owner_id == ids["alice"]
    assert WebhookDelivery.objects.get(pk=ids["delivery"]).job == job
    assert Avatar.objects.get(pk=ids["avatar"]).face_embedding == [0.5, 0.5]
    run = TrainingRun.objects.get(pk=ids["run"])
    assert run.status == WorkStatus.SUCCEEDED and run.lora == lora and run.character == character
    assert run.loss_history == [1.0, 0.5] and run.cancel_at is None and run.total_steps == 30
    assert list(lora.training_runs.all()) == [run]
    # The moved models' content type (and the permissions on it) is the same row, now the
    # catalog's; the tables took the catalog's names.
    assert ContentType.objects.get(pk=ids["lora_content_type"]).app_label == "catalog"
    tables = set(connection.introspection.table_names())
    assert {"catalog_lora", "catalog_stylepreset", "catalog_loracombination"} <= tables
    assert not {"characters_lora", "generation_stylepreset"} & tables
