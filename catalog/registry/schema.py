"""The registry file's schema (see the package docstring) and its checks, run before anything
is written: unknown keys, missing keys and wrong shapes are errors naming the entry.

The catalog's own sections are base models, LoRAs, styles and combinations; an app above the
catalog adds a section of its own with ``register_section`` (the characters app adds
``characters``), so the catalog never imports it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

LORA_FIELDS = (
    "slug", "name", "type", "original_filename", "base_model", "trigger_words",
    "default_weight", "min_weight", "max_weight", "is_public",
)  # fmt: skip
STYLE_FIELDS = (
    "name", "prompt_template", "negative_prompt", "quality", "steps", "scheduler",
    "ip_adapter_scale", "controlnet_weights", "enabled",
)  # fmt: skip
MODEL_FIELDS = (
    "name", "family", "source", "vae", "sha256", "default_scheduler", "license_note", "enabled",
)  # fmt: skip
Keys = tuple[set[str], set[str]]  # (required keys, optional keys)


@dataclass(frozen=True)
class Section:
    """One list of entries in the file: the keys of an entry and of the lists inside it.
    A section of another app brings its own ``import_entry(importer, entry, where)`` and
    ``export() -> list[dict]``; the catalog's own sections are handled by the importer."""

    name: str
    keys: Keys
    nested: dict[str, Keys] = field(default_factory=dict)
    import_entry: Callable[[Any, dict, str], None] | None = None
    export: Callable[[], list[dict[str, Any]]] | None = None


CATALOG_SECTIONS = (
    Section("models", ({"slug", "name", "source"}, set(MODEL_FIELDS) - {"name", "source"})),
    Section(
        "loras",
        (
            {"slug", "name", "type"},
            {"file", "sha256", "enabled", "owner", *LORA_FIELDS} - {"slug", "name", "type"},
        ),
    ),
    Section("styles", ({"slug", "name"}, {"model", *STYLE_FIELDS} - {"name"})),
    Section(
        "combinations",
        ({"slug", "name"}, {"description", "entries"}),
        nested={"entries": ({"lora", "weight"}, set())},
    ),
)
_added: dict[str, Section] = {}


def register_section(section: Section) -> None:
    """Add an app's section; imported after the catalog's own (it may refer to them)."""
    _added[section.name] = section


def sections() -> tuple[Section, ...]:
    """Every section in import order: references last."""
    return (*CATALOG_SECTIONS, *_added.values())


class RegistrySyncError(Exception):
    """A problem in the YAML file or with what it asks for; names the entry and the key."""


@dataclass
class SyncReport:
    changes: list[str] = field(default_factory=list)
    unchanged: int = 0
    dry_run: bool = False
    _stored_files: list[str] = field(default_factory=list, repr=False)


def load_document(path: Path) -> dict[str, Any]:
    import yaml

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
    names = [section.name for section in sections()]
    _check_keys(document, set(), {"version", *names}, "the top level")
    if document.get("version", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise RegistrySyncError(f"Unsupported version {document['version']!r}; expected 1.")
    for section in sections():
        entries = document.get(section.name) or []
        if not isinstance(entries, list):
            raise RegistrySyncError(f"{section.name!r} must be a list of entries.")
        for index, entry in enumerate(entries):
            where = _where(section.name, index, entry)
            _check_keys(entry, *section.keys, where)
            for key, keys in section.nested.items():
                items = entry.get(key) or []
                if not isinstance(items, list):
                    raise RegistrySyncError(f"{key!r} in {where} must be a list.")
                for position, item in enumerate(items):
                    _check_keys(item, *keys, f"{where}.{key}[{position}]")
        if section.name == "loras":
            for index, entry in enumerate(entries):
                if not entry.get("file") and not entry.get("sha256"):
                    where = _where(section.name, index, entry)
                    raise RegistrySyncError(f"{where} needs 'file' or 'sha256'.")
