"""`manage.py sync_registry`: export -> wipe -> import gives the same rows; import is strict,
idempotent, and a dry run writes nothing."""

from io import StringIO

import pytest
import yaml
from django.core.management import CommandError, call_command

from catalog.models import BaseModel, Lora, LoraCombination, LoraCombinationEntry, StylePreset
from catalog.services import lora_register, lora_set_enabled
from characters.models import Character, CharacterLora
from characters.services import character_create
from tests.catalog.services.test_lora_registry import (
    _torch_pickle,
    lora_bytes,
    register,
    stored_lora_keys,
    upload,
)

pytestmark = pytest.mark.django_db


def sync(*args) -> str:
    out = StringIO()
    call_command("sync_registry", *[str(arg) for arg in args], stdout=out)
    return out.getvalue()


def snapshot() -> dict:
    """Every synced field of every row, keyed by natural keys instead of ids."""

    def rows(queryset, *fields):
        return sorted(queryset.values_list(*fields))

    style_fields = [f.name for f in StylePreset._meta.concrete_fields]
    style_fields = [f for f in style_fields if f not in {"id", "created_at", "updated_at"}]
    style_fields = ["base_model__slug" if f == "base_model" else f for f in style_fields]
    return {
        "models": rows(
            BaseModel.objects,
            "slug",
            "name",
            "family",
            "source",
            "vae",
            "sha256",
            "default_scheduler",
            "license_note",
            "enabled",
        ),  # fmt: skip
        "loras": rows(
            Lora.objects,
            "slug",
            "name",
            "type",
            "original_filename",
            "sha256",
            "size_bytes",
            "base_model",
            "trigger_words",
            "default_weight",
            "min_weight",
            "max_weight",
            "enabled",
            "is_public",
            "owner__username",
        ),  # fmt: skip
        "styles": [tuple(str(v) for v in row) for row in rows(StylePreset.objects, *style_fields)],
        "combinations": rows(LoraCombination.objects, "slug", "name", "description"),
        "entries": rows(LoraCombinationEntry.objects, "combination__slug", "lora__slug", "weight"),
        "characters": [
            tuple(str(v) for v in row)
            for row in rows(
                Character.objects,
                "owner__username",
                "name",
                "description",
                "trigger_words",
                "style__slug",
                "base_model__slug",
                "consistency_threshold",
                "scene_presets",
            )  # fmt: skip
        ],
        "character_loras": rows(
            CharacterLora.objects,
            "character__owner__username",
            "character__name",
            "lora__slug",
            "weight",
        ),  # fmt: skip
    }


def wipe() -> None:
    Character.objects.all().delete()
    LoraCombination.objects.all().delete()
    Lora.objects.all().delete()
    StylePreset.objects.all().delete()
    BaseModel.objects.all().delete()


@pytest.fixture
def registry(user, make_user):
    bob = make_user("bob")
    hero, _ = register(lora_bytes(1), name="hero_v2.safetensors", slug="hero")
    # Private to Bob: only Bob's characters may use it.
    private, _ = lora_register(
        upload=upload(lora_bytes(2), "mine.safetensors"), slug="mine", name="Mine", type="style",
        owner=bob, is_public=False, trigger_words=["inked"], default_weight=0.5,
    )  # fmt: skip
    retired, _ = lora_register(
        upload=upload(lora_bytes(3), "old.safetensors"), slug="old", name="Old", type="pose"
    )
    combination = LoraCombination.objects.create(slug="duo", name="Duo", description="both")
    LoraCombinationEntry.objects.create(combination=combination, lora=hero, weight=0.7)
    LoraCombinationEntry.objects.create(combination=combination, lora=private, weight=0.4)
    watercolor = BaseModel.objects.create(
        slug="watercolor", name="Watercolor XL", source="org/watercolor-xl",
        vae="madebyollin/sdxl-vae-fp16-fix", sha256="ab" * 32, default_scheduler="dpmpp_2m",
        license_note="open",
    )  # fmt: skip
    BaseModel.objects.create(
        slug="retired", name="Retired", source="s3://models/old", enabled=False
    )
    StylePreset.objects.create(
        slug="ink", name="Ink", prompt_template="ink drawing of {prompt}", steps=20,
        controlnet_weights={"canny": 1.2}, base_model=watercolor,
    )  # fmt: skip
    character_create(
        owner=bob, name="Luca", description="sea monster", trigger_words=["luca"],
        style=StylePreset.objects.get(slug="comic"), consistency_threshold=0.65,
        scene_presets={"beach": "on the beach"},
        default_loras=[{"lora": "hero", "weight": 0.7}, {"lora": "mine"}], base_model=watercolor,
    )  # fmt: skip
    character_create(owner=user, name="Alberto", default_loras=[{"lora": "old"}])
    # Disabled after Alberto chose it: import must still recreate Alberto with it.
    lora_set_enabled(lora=retired, enabled=False)
    return {"hero": hero}


def test_export_wipe_import_gives_the_same_rows_and_a_second_import_changes_nothing(
    registry, tmp_path
):
    before = snapshot()
    path = tmp_path / "export" / "registry.yaml"
    path.parent.mkdir()
    assert "Exported 2 models, 3 loras" in sync(path, "--export")
    document = yaml.safe_load(path.read_text())
    assert set(document) == {"version", "models", "loras", "combinations", "styles", "characters"}
    assert document["loras"][0]["file"] == "registry-loras/hero.safetensors"

    wipe()
    assert snapshot() != before
    output = sync(path)
    assert snapshot() == before
    assert "create lora 'hero'" in output and "create character 'bob/Luca'" in output
    with Lora.objects.get(slug="hero").file.open("rb") as handle:
        assert handle.read() == lora_bytes(1)

    again = sync(path)
    # 2 models, 3 LoRAs, 1 combination, 6 styles (5 seeded by the migration), 2 characters.
    assert again.strip().endswith("0 changes, 14 unchanged.")
    assert snapshot() == before


def write(tmp_path, document: dict, name: str = "registry.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture
def weights_dir(tmp_path):
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "hero.safetensors").write_bytes(lora_bytes(1))
    return tmp_path


def hero_entry(**extra) -> dict:
    return {"slug": "hero", "name": "Hero", "type": "character",
            "file": "weights/hero.safetensors", **extra}  # fmt: skip


def test_a_hand_written_file_imports_once_then_reports_no_changes(user, weights_dir):
    path = write(
        weights_dir,
        {
            "loras": [hero_entry(trigger_words=["hero"])],
            "styles": [{"slug": "noir", "name": "Noir", "prompt_template": "noir {prompt}"}],
            "combinations": [
                {"slug": "solo", "name": "Solo", "entries": [{"lora": "hero", "weight": 1.0}]}
            ],
            "characters": [{"owner": "alice", "name": "Luca", "style": "noir",
                            "default_loras": [{"lora": "hero"}]}],
        },
    )  # fmt: skip
    first = sync(path)
    assert "4 changes" in first
    character = Character.objects.get(owner=user, name="Luca")
    assert character.style.slug == "noir"
    assert [(link.lora.slug, link.weight) for link in character.lora_links.all()] == [("hero", 0.8)]
    assert "0 changes, 4 unchanged." in sync(path)
    assert Lora.objects.count() == 1 and len(stored_lora_keys()) == 1


def test_an_entry_matches_a_registered_file_by_sha256_and_updates_it(weights_dir):
    lora, _ = register(lora_bytes(1), slug="hero")
    path = write(
        weights_dir,
        {"loras": [{"slug": "hero", "name": "Hero (curated)", "type": "character",
                    "sha256": lora.sha256, "enabled": False}]},
    )  # fmt: skip
    assert "update lora 'hero': name, enabled" in sync(path)
    lora.refresh_from_db()
    assert (lora.name, lora.enabled) == ("Hero (curated)", False)
    assert Lora.objects.count() == 1 and len(stored_lora_keys()) == 1


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"lora": []}, "Unknown key 'lora' in the top level"),
        ({"loras": [hero_entry(weight=1)]}, "Unknown key 'weight' in loras[0] ('hero')"),
        (
            {
                "characters": [
                    {"owner": "alice", "name": "L", "default_loras": [{"lora": "x", "w": 1}]}
                ]
            },
            "Unknown key 'w' in characters[0] ('L').default_loras[0]",
        ),
        ({"styles": [{"slug": "s"}]}, "Missing key 'name' in styles[0] ('s')"),
        (
            {"loras": [hero_entry(file="../outside.safetensors")]},
            "outside the YAML file's directory",
        ),
        ({"loras": [hero_entry(file="/etc/passwd")]}, "outside the YAML file's directory"),
        ({"loras": [hero_entry(sha256="0" * 64)]}, "has sha256"),
        ({"styles": [{"slug": "s", "name": "S", "controlnet_weights": {"tile": 1}}]}, "'tile'"),
        ({"characters": [{"owner": "nobody", "name": "L"}]}, "unknown user 'nobody'"),
        (
            {"models": [{"slug": "m", "name": "M", "source": "model-folder"}]},
            "models[0] ('m'): 'model-folder' is no model source",
        ),
        (
            {"models": [{"slug": "m", "name": "M", "source": "/srv/m.ckpt"}]},
            "is a pickle checkpoint",
        ),
        ({"models": [{"slug": "m", "name": "M"}]}, "Missing key 'source' in models[0] ('m')"),
        ({"styles": [{"slug": "s", "name": "S", "model": "nope"}]}, "unknown model 'nope'"),
    ],
)
def test_bad_files_are_refused_naming_the_key_and_nothing_is_written(
    user, weights_dir, document, message
):
    (weights_dir.parent / "outside.safetensors").write_bytes(lora_bytes(1))
    styles = StylePreset.objects.count()
    with pytest.raises(CommandError) as raised:
        sync(write(weights_dir, document))
    assert message in str(raised.value)
    assert Lora.objects.count() == 0 and StylePreset.objects.count() == styles
    assert stored_lora_keys() == [] and not BaseModel.objects.exists()


def test_a_model_given_other_weights_forgets_the_sha256_recorded_for_the_old_ones(tmp_path):
    BaseModel.objects.create(slug="m", name="M", source="org/m", sha256="ab" * 32)
    same = {"models": [{"slug": "m", "name": "M", "source": "org/m"}]}
    assert "0 changes, 1 unchanged." in sync(write(tmp_path, same))
    moved = {"models": [{"slug": "m", "name": "M", "source": "s3://models/m"}]}
    assert "update model 'm': source, sha256" in sync(write(tmp_path, moved))
    assert BaseModel.objects.get(slug="m").sha256 == ""


def test_a_renamed_pickle_is_refused_by_the_registry_checks(user, weights_dir):
    (weights_dir / "weights" / "evil.safetensors").write_bytes(_torch_pickle())
    document = {"loras": [hero_entry(), hero_entry(slug="evil", file="weights/evil.safetensors")]}
    with pytest.raises(CommandError, match=r"loras\[1\] \('evil'\): .*not a safetensors"):
        sync(write(weights_dir, document))
    # All or nothing: the valid entry before it is rolled back, its stored file removed.
    assert Lora.objects.count() == 0 and stored_lora_keys() == []


def test_dry_run_reports_and_writes_nothing(user, weights_dir):
    path = write(
        weights_dir,
        {"loras": [hero_entry()], "styles": [{"slug": "noir", "name": "Noir"}],
         "characters": [{"owner": "alice", "name": "Luca", "default_loras": [{"lora": "hero"}]}]},
    )  # fmt: skip
    styles = StylePreset.objects.count()
    output = sync(path, "--dry-run")
    assert "would create lora 'hero'" in output and "would create character 'alice/Luca'" in output
    assert "dry run: nothing was written" in output
    assert Lora.objects.count() == 0 and not Character.objects.exists()
    assert StylePreset.objects.count() == styles and stored_lora_keys() == []
