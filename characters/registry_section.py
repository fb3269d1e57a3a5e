"""The ``characters`` section of the catalog's YAML registry (see catalog/registry): a
character is identified by its owner and name; its style and default LoRAs name catalog
entries of the same file or already registered."""

from __future__ import annotations

from typing import Any

from catalog.registry import RegistryImporter, Section

from .models import Character
from .services import character_create, character_update

CHARACTER_FIELDS = (
    "description", "trigger_words", "consistency_threshold", "scene_presets",
)  # fmt: skip


def import_character(importer: RegistryImporter, entry: dict, where: str) -> None:
    owner = importer.user(entry["owner"], where)
    values = {key: entry[key] for key in CHARACTER_FIELDS if key in entry}
    if "style" in entry:
        values["style"] = importer.style(entry["style"], where)
    if "model" in entry:
        values["base_model"] = importer.base_model(entry["model"], where)
    loras = None
    if "default_loras" in entry:
        loras = [
            {"lora": lora.slug, "weight": weight}
            for lora, weight in importer.weights(entry["default_loras"], where, "default_loras")
        ]
    character = Character.objects.filter(owner=owner, name=entry["name"]).first()
    label = f"{owner.username}/{entry['name']}"
    if character is None:
        character_create(owner=owner, name=entry["name"], default_loras=loras or [], **values)
        importer.record("character", label, True, [])
        return
    changed = [name for name, value in values.items() if getattr(character, name) != value]
    current = {link.lora.slug: link.weight for link in character.lora_links.all()}
    if loras is not None and {item["lora"]: item["weight"] for item in loras} != current:
        changed.append("default_loras")
    if changed:
        updates = {name: values[name] for name in changed if name in values}
        if "default_loras" in changed:
            updates["default_loras"] = loras
        character_update(character=character, **updates)
    importer.record("character", label, False, changed)


def export_characters() -> list[dict[str, Any]]:
    characters = Character.objects.select_related("owner", "style", "base_model").order_by(
        "owner__username", "name"
    )
    return [_export_character(character) for character in characters]


def _export_character(character: Character) -> dict[str, Any]:
    links = character.lora_links.select_related("lora").order_by("lora__slug")
    return {
        "owner": character.owner.username,
        "name": character.name,
        **{key: getattr(character, key) for key in CHARACTER_FIELDS},
        "style": character.style.slug if character.style else None,
        "model": character.base_model.slug if character.base_model else None,
        "default_loras": [{"lora": link.lora.slug, "weight": link.weight} for link in links],
    }


CHARACTERS_SECTION = Section(
    "characters",
    ({"owner", "name"}, {"style", "model", "default_loras", *CHARACTER_FIELDS}),
    nested={"default_loras": ({"lora"}, {"weight"})},
    import_entry=import_character,
    export=export_characters,
)
