"""The curated registry as one YAML file: LoRAs, LoRA combinations, style presets, characters.

Schema (every key but the required ones may be left out; unknown keys are errors):

    version: 1
    loras:            # required: slug, name, type; and file or sha256
      - slug: hero
        name: Hero
        type: character            # character | style | background | pose | detail
        file: registry-loras/hero.safetensors   # relative to this YAML file's directory
        sha256: 3f1c...            # matches an entry already registered; checked against file
        original_filename: hero_v2.safetensors
        base_model: sdxl
        trigger_words: [hero]
        default_weight: 0.8
        min_weight: 0.0
        max_weight: 1.5
        enabled: true
        is_public: true
        owner: null                # a username for a private LoRA
    combinations:     # required: slug, name
      - {slug: beach-day, name: Beach day, description: "", entries: [{lora: hero, weight: 0.7}]}
    styles:           # required: slug, name
      - {slug: comic, name: Comic, prompt_template: "comic of {prompt}", negative_prompt: "",
         quality: standard, steps: null, scheduler: euler, ip_adapter_scale: null,
         controlnet_weights: {canny: 0.9}, enabled: true}
    characters:       # required: owner, name (together they identify a character)
      - {owner: alice, name: Luca, description: "", trigger_words: [luca], style: comic,
         consistency_threshold: 0.5, scene_presets: {beach: "on the beach"},
         default_loras: [{lora: hero, weight: 0.7}]}

Import is idempotent (a second import changes nothing) and all-or-nothing: it runs in one
transaction, and LoRA files stored by a failed or dry run are removed again. LoRA files go
through ``lora_register``, so the safetensors checks apply. Not covered: reference images and
LoRA preview images (uploads, not curated metadata).
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction

from accounts.models import User
from generation.errors import DomainError
from generation.models import StylePreset

from .models import Character, Lora, LoraCombination, LoraCombinationEntry
from .services import character_create, character_update, lora_register, lora_set_enabled

SCHEMA_VERSION = 1
CONTROL_TYPES = ("canny", "depth", "pose", "segmentation", "normal", "scribble")
CONTROL_WEIGHT_RANGE = (0.0, 2.0)

LORA_FIELDS = (
    "slug", "name", "type", "original_filename", "base_model", "trigger_words",
    "default_weight", "min_weight", "max_weight", "is_public",
)  # fmt: skip
STYLE_FIELDS = (
    "name", "prompt_template", "negative_prompt", "quality", "steps", "scheduler",
    "ip_adapter_scale", "controlnet_weights", "enabled",
)  # fmt: skip
CHARACTER_FIELDS = (
    "description", "trigger_words", "consistency_threshold", "scene_presets",
)  # fmt: skip

# section -> (required keys, optional keys)
SCHEMA: dict[str, tuple[set[str], set[str]]] = {
    "loras": (
        {"slug", "name", "type"},
        {"file", "sha256", "enabled", "owner", *LORA_FIELDS} - {"slug", "name", "type"},
    ),
    "combinations": ({"slug", "name"}, {"description", "entries"}),
    "styles": ({"slug", "name"}, set(STYLE_FIELDS) - {"name"}),
    "characters": ({"owner", "name"}, {"style", "default_loras", *CHARACTER_FIELDS}),
}
NESTED = {  # lists inside entries: (section, key) -> (required, optional)
    ("combinations", "entries"): ({"lora", "weight"}, set()),
    ("characters", "default_loras"): ({"lora"}, {"weight"}),
}
SECTIONS = ("loras", "styles", "combinations", "characters")  # import order: references last


class RegistrySyncError(Exception):
    """A problem in the YAML file or with what it asks for; names the entry and the key."""


@dataclass
class SyncReport:
    changes: list[str] = field(default_factory=list)
    unchanged: int = 0
    dry_run: bool = False
    _stored_files: list[str] = field(default_factory=list, repr=False)


def controlnet_weights_errors(value: Any) -> list[str]:
    """Why a style's ControlNet weights are invalid (empty when valid)."""
    if not isinstance(value, dict):
        return ['Must be a mapping of control type to weight, e.g. {"canny": 0.9}.']
    low, high = CONTROL_WEIGHT_RANGE
    errors = []
    for key, weight in value.items():
        if key not in CONTROL_TYPES:
            errors.append(f"Unknown control type {key!r}; use one of {', '.join(CONTROL_TYPES)}.")
        elif isinstance(weight, bool) or not isinstance(weight, int | float):
            errors.append(f"Weight of {key!r} must be a number.")
        elif not low <= weight <= high:
            errors.append(f"Weight of {key!r} is {weight}; it must be within {low}..{high}.")
    return errors


# ---------------------------------------------------------------- reading and checking


def load_document(path: Path) -> dict[str, Any]:
    import yaml  # here, not at the top: the admin imports this module for its validator

    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise RegistrySyncError(f"Cannot read {path}: {exc}")
    except yaml.YAMLError as exc:
        raise RegistrySyncError(f"{path} is not valid YAML: {exc}")
    check_document(document or {})
    return document or {}


def _where(section: str, index: int, entry: dict) -> str:
    label = entry.get("slug") or entry.get("name") if isinstance(entry, dict) else None
    return f"{section}[{index}]" + (f" ({label!r})" if label else "")


def _check_keys(entry: Any, required: set[str], optional: set[str], where: str) -> None:
    if not isinstance(entry, dict):
        raise RegistrySyncError(f"{where} must be a mapping, not {type(entry).__name__}.")
    for key in entry:
        if key not in required | optional:
            allowed = ", ".join(sorted(required | optional))
            raise RegistrySyncError(f"Unknown key {key!r} in {where}; allowed keys: {allowed}.")
    missing = sorted(required - set(entry))
    if missing:
        raise RegistrySyncError(f"Missing key {missing[0]!r} in {where}.")


def check_document(document: Any) -> None:
    """Check the whole file's shape before anything is written."""
    _check_keys(document, set(), {"version", *SECTIONS}, "the top level")
    if document.get("version", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise RegistrySyncError(f"Unsupported version {document['version']!r}; expected 1.")
    for section in SECTIONS:
        entries = document.get(section) or []
        if not isinstance(entries, list):
            raise RegistrySyncError(f"{section!r} must be a list of entries.")
        for index, entry in enumerate(entries):
            where = _where(section, index, entry)
            _check_keys(entry, *SCHEMA[section], where)
            for (nested_section, key), keys in NESTED.items():
                if nested_section != section:
                    continue
                items = entry.get(key) or []
                if not isinstance(items, list):
                    raise RegistrySyncError(f"{key!r} in {where} must be a list.")
                for position, item in enumerate(items):
                    _check_keys(item, *keys, f"{where}.{key}[{position}]")
        if section == "loras":
            for index, entry in enumerate(entries):
                if not entry.get("file") and not entry.get("sha256"):
                    where = _where(section, index, entry)
                    raise RegistrySyncError(f"{where} needs 'file' or 'sha256'.")


# ---------------------------------------------------------------- import


class _Rollback(Exception):
    pass


def import_registry(path: Path, *, dry_run: bool = False) -> SyncReport:
    """Create or update rows to match the file. ``dry_run`` reports and rolls everything back."""
    path = Path(path)
    document = load_document(path)
    report = SyncReport(dry_run=dry_run)
    importer = _Importer(base_dir=path.parent.resolve(), report=report)
    try:
        with transaction.atomic():
            for section in SECTIONS:
                for index, entry in enumerate(document.get(section) or []):
                    where = _where(section, index, entry)
                    try:
                        getattr(importer, f"import_{section}")(entry, where)
                    except ValidationError as exc:
                        raise RegistrySyncError(f"{where}: {'; '.join(exc.messages)}")
                    except DomainError as exc:
                        raise RegistrySyncError(f"{where}: {exc.message}")
            importer.finish()
            if dry_run:
                raise _Rollback
    except _Rollback:
        _delete_stored(report._stored_files)
    except BaseException:
        _delete_stored(report._stored_files)
        raise
    return report


def _delete_stored(names: list[str]) -> None:
    # Storage is not transactional: files stored for rows that were rolled back go too.
    from django.core.files.storage import default_storage

    for name in names:
        default_storage.delete(name)


def _assign(instance: Any, values: dict[str, Any]) -> list[str]:
    """Set the values that differ; return the names of the fields that changed."""
    changed = []
    for name, value in values.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.append(name)
    return changed


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class _Importer:
    base_dir: Path
    report: SyncReport
    to_disable: list[Lora] = field(default_factory=list)

    def _record(self, kind: str, label: str, created: bool, changed: list[str]) -> None:
        if created:
            self.report.changes.append(f"create {kind} {label!r}")
        elif changed:
            self.report.changes.append(f"update {kind} {label!r}: {', '.join(changed)}")
        else:
            self.report.unchanged += 1

    def _user(self, username: Any, where: str) -> User | None:
        if username is None:
            return None
        user = User.objects.filter(username=username).first()
        if user is None:
            raise RegistrySyncError(f"{where}: unknown user {username!r}.")
        return user

    def _lora(self, slug: Any, where: str) -> Lora:
        lora = Lora.objects.filter(slug=slug).first()
        if lora is None:
            raise RegistrySyncError(f"{where}: unknown LoRA {slug!r}.")
        return lora

    def _resolve_file(self, relative: Any, where: str) -> Path:
        if not isinstance(relative, str):
            raise RegistrySyncError(f"{where}: 'file' must be a path relative to the YAML file.")
        candidate = (self.base_dir / relative).resolve()  # follows links: they may not escape
        if not candidate.is_relative_to(self.base_dir):
            raise RegistrySyncError(
                f"{where}: file {relative!r} is outside the YAML file's directory."
            )
        if not candidate.is_file():
            raise RegistrySyncError(f"{where}: file {relative!r} does not exist.")
        return candidate

    def import_loras(self, entry: dict, where: str) -> None:
        path = self._resolve_file(entry["file"], where) if entry.get("file") else None
        sha256 = entry.get("sha256")
        if path is not None:
            actual = _sha256_of(path)
            if sha256 and sha256 != actual:
                raise RegistrySyncError(
                    f"{where}: file {entry['file']!r} has sha256 {actual}, not {sha256}."
                )
            sha256 = actual
        values = {key: entry[key] for key in LORA_FIELDS if key in entry}
        if "owner" in entry:
            values["owner"] = self._user(entry["owner"], where)
        lora = Lora.objects.filter(sha256=sha256).first()
        created = lora is None
        if created:
            lora = self._register(entry, path, values, where)
        changed = _assign(lora, values)
        if changed:
            lora.full_clean(exclude=["file"])
            lora.save(update_fields=changed)
        if "enabled" in entry and lora.enabled != entry["enabled"]:
            if entry["enabled"]:
                lora_set_enabled(lora=lora, enabled=True)
            else:
                # Disabled last: characters in this file may still name it as a default LoRA
                # (the character services accept only enabled ones).
                self.to_disable.append(lora)
            changed.append("enabled")
        self._record("lora", lora.slug, created, changed)

    def finish(self) -> None:
        for lora in self.to_disable:
            lora_set_enabled(lora=lora, enabled=False)

    def _register(self, entry: dict, path: Path | None, values: dict, where: str) -> Lora:
        clash = Lora.objects.filter(slug=entry["slug"]).first()
        if clash is not None:
            raise RegistrySyncError(
                f"{where}: slug {entry['slug']!r} is registered with another file "
                f"(sha256 {clash.sha256[:12]}...)."
            )
        if path is None:
            raise RegistrySyncError(
                f"{where}: no LoRA with sha256 {entry['sha256']} is registered and no 'file' "
                "is given."
            )
        options = {
            key: values[key]
            for key in ("owner", "is_public", "trigger_words", "base_model")
            + ("default_weight", "min_weight", "max_weight")
            if key in values
        }
        with open(path, "rb") as handle:
            # lora_register refuses names with paths; the path was resolved and checked above.
            lora, _ = lora_register(
                upload=File(handle, name=path.name),
                slug=entry["slug"],
                name=entry["name"],
                type=entry["type"],
                **options,
            )
        self.report._stored_files.append(lora.file.name)
        return lora

    def import_styles(self, entry: dict, where: str) -> None:
        values = {key: entry[key] for key in STYLE_FIELDS if key in entry}
        if "controlnet_weights" in values:
            errors = controlnet_weights_errors(values["controlnet_weights"])
            if errors:
                raise RegistrySyncError(f"{where}: controlnet_weights: {' '.join(errors)}")
        preset = StylePreset.objects.filter(slug=entry["slug"]).first()
        created = preset is None
        preset = preset or StylePreset(slug=entry["slug"])
        changed = _assign(preset, values)
        if created or changed:
            preset.full_clean()
            preset.save()
        self._record("style", preset.slug, created, changed)

    def import_combinations(self, entry: dict, where: str) -> None:
        combination = LoraCombination.objects.filter(slug=entry["slug"]).first()
        created = combination is None
        combination = combination or LoraCombination(slug=entry["slug"])
        changed = _assign(
            combination, {key: entry[key] for key in ("name", "description") if key in entry}
        )
        if created or changed:
            combination.full_clean()
            combination.save()
        if "entries" in entry:
            wanted = self._weights(entry["entries"], where, "entries")
            current = {e.lora.slug: e.weight for e in combination.entries.select_related("lora")}
            if {lora.slug: weight for lora, weight in wanted} != current:
                combination.entries.all().delete()
                LoraCombinationEntry.objects.bulk_create(
                    LoraCombinationEntry(combination=combination, lora=lora, weight=weight)
                    for lora, weight in wanted
                )
                changed.append("entries")
        self._record("combination", combination.slug, created, changed)

    def _weights(self, items: list[dict], where: str, key: str) -> list[tuple[Lora, float]]:
        resolved, seen = [], set()
        for position, item in enumerate(items or []):
            lora = self._lora(item["lora"], f"{where}.{key}[{position}]")
            if lora.slug in seen:
                raise RegistrySyncError(f"{where}.{key}: LoRA {lora.slug!r} is listed twice.")
            seen.add(lora.slug)
            resolved.append((lora, item.get("weight", lora.default_weight)))
        return resolved

    def import_characters(self, entry: dict, where: str) -> None:
        owner = self._user(entry["owner"], where)
        values = {key: entry[key] for key in CHARACTER_FIELDS if key in entry}
        if "style" in entry:
            values["style"] = self._style(entry["style"], where)
        loras = None
        if "default_loras" in entry:
            loras = [
                {"lora": lora.slug, "weight": weight}
                for lora, weight in self._weights(entry["default_loras"], where, "default_loras")
            ]
        character = Character.objects.filter(owner=owner, name=entry["name"]).first()
        label = f"{owner.username}/{entry['name']}"
        if character is None:
            character_create(owner=owner, name=entry["name"], default_loras=loras or [], **values)
            self._record("character", label, True, [])
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
        self._record("character", label, False, changed)

    def _style(self, slug: Any, where: str) -> StylePreset | None:
        if slug is None:
            return None
        preset = StylePreset.objects.filter(slug=slug).first()
        if preset is None:
            raise RegistrySyncError(f"{where}: unknown style {slug!r}.")
        return preset


# ---------------------------------------------------------------- export


def lora_files_dir(path: Path) -> Path:
    """Where export copies the LoRA files: a folder beside the YAML file."""
    return Path(path).parent / f"{Path(path).stem}-loras"


def _export_file_name(lora: Lora) -> str:
    # lora_register accepts only names that start with a letter or digit.
    return f"{lora.slug if lora.slug[0].isalnum() else 'lora' + lora.slug}.safetensors"


def export_registry(path: Path) -> dict[str, int]:
    """Write the registry to ``path`` and copy the LoRA files beside it; returns counts."""
    import yaml

    path = Path(path)
    files_dir = lora_files_dir(path)
    files_dir.mkdir(parents=True, exist_ok=True)
    loras = []
    for lora in Lora.objects.select_related("owner").order_by("slug"):
        target = files_dir / _export_file_name(lora)
        try:
            with lora.file.open("rb") as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
        except Exception as exc:  # storage backends raise their own errors (S3: ClientError)
            raise RegistrySyncError(
                f"LoRA {lora.slug!r}: cannot copy its stored file {lora.file.name}: {exc}"
            )
        loras.append(
            {
                **{key: getattr(lora, key) for key in LORA_FIELDS},
                "file": target.relative_to(path.parent).as_posix(),
                "sha256": lora.sha256,
                "enabled": lora.enabled,
                "owner": lora.owner.username if lora.owner else None,
            }
        )
    document = {
        "version": SCHEMA_VERSION,
        "loras": loras,
        "combinations": [_export_combination(c) for c in LoraCombination.objects.order_by("slug")],
        "styles": [
            {"slug": style.slug, **{key: getattr(style, key) for key in STYLE_FIELDS}}
            for style in StylePreset.objects.order_by("slug")
        ],
        "characters": [
            _export_character(character)
            for character in Character.objects.select_related("owner", "style").order_by(
                "owner__username", "name"
            )
        ],
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), "utf-8")
    return {section: len(document[section]) for section in SECTIONS}


def _export_combination(combination: LoraCombination) -> dict[str, Any]:
    entries = combination.entries.select_related("lora").order_by("lora__slug")
    return {
        "slug": combination.slug,
        "name": combination.name,
        "description": combination.description,
        "entries": [{"lora": e.lora.slug, "weight": e.weight} for e in entries],
    }


def _export_character(character: Character) -> dict[str, Any]:
    links = character.lora_links.select_related("lora").order_by("lora__slug")
    return {
        "owner": character.owner.username,
        "name": character.name,
        **{key: getattr(character, key) for key in CHARACTER_FIELDS},
        "style": character.style.slug if character.style else None,
        "default_loras": [{"lora": link.lora.slug, "weight": link.weight} for link in links],
    }
