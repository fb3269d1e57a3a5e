"""Import: create or update rows to match the registry file, in one transaction, all or
nothing; LoRA files go through ``lora_register`` so the safetensors checks apply."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction

from accounts.models import User
from core.errors import DomainError

from ..controlnet_weights import controlnet_weights_errors
from ..models import BaseModel, Lora, LoraCombination, LoraCombinationEntry, StylePreset
from ..services import lora_register, lora_set_enabled
from .schema import (
    LORA_FIELDS,
    MODEL_FIELDS,
    STYLE_FIELDS,
    RegistrySyncError,
    Section,
    SyncReport,
    _where,
    load_document,
    sections,
)


class _Rollback(Exception):
    pass


def import_registry(path: Path, *, dry_run: bool = False) -> SyncReport:
    """Create or update rows to match the file. ``dry_run`` reports and rolls everything back."""
    path = Path(path)
    document = load_document(path)
    report = SyncReport(dry_run=dry_run)
    importer = RegistryImporter(base_dir=path.parent.resolve(), report=report)
    try:
        with transaction.atomic():
            for section in sections():
                import_entry = importer.importer_of(section)
                for index, entry in enumerate(document.get(section.name) or []):
                    where = _where(section.name, index, entry)
                    try:
                        import_entry(entry, where)
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
class RegistryImporter:
    """Imports one file's entries. Another app's section gets this object as its first
    argument: ``record`` reports a change, ``user``, ``lora``, ``weights``, ``style`` and
    ``base_model`` look
    up what an entry names (a RegistrySyncError naming the entry when it is unknown)."""

    base_dir: Path
    report: SyncReport
    to_disable: list[Lora] = field(default_factory=list)

    def importer_of(self, section: Section):
        if section.import_entry is not None:
            return partial(section.import_entry, self)
        return getattr(self, f"import_{section.name}")

    def record(self, kind: str, label: str, created: bool, changed: list[str]) -> None:
        if created:
            self.report.changes.append(f"create {kind} {label!r}")
        elif changed:
            self.report.changes.append(f"update {kind} {label!r}: {', '.join(changed)}")
        else:
            self.report.unchanged += 1

    def user(self, username: Any, where: str) -> User | None:
        if username is None:
            return None
        user = User.objects.filter(username=username).first()
        if user is None:
            raise RegistrySyncError(f"{where}: unknown user {username!r}.")
        return user

    def lora(self, slug: Any, where: str) -> Lora:
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
            values["owner"] = self.user(entry["owner"], where)
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
        self.record("lora", lora.slug, created, changed)

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

    def import_models(self, entry: dict, where: str) -> None:
        values = {key: entry[key] for key in MODEL_FIELDS if key in entry}
        model = BaseModel.objects.filter(slug=entry["slug"]).first()
        created = model is None
        model = model or BaseModel(slug=entry["slug"])
        new_weights = any(
            getattr(model, key) != values[key] for key in ("source", "vae") if key in values
        )
        if not created and new_weights and "sha256" not in entry:
            values["sha256"] = ""  # the digest recorded for the old weights no longer holds
        changed = _assign(model, values)
        if created or changed:
            model.full_clean()
            model.save()
        self.record("model", model.slug, created, changed)

    def import_styles(self, entry: dict, where: str) -> None:
        values = {key: entry[key] for key in STYLE_FIELDS if key in entry}
        if "model" in entry:
            values["base_model"] = self.base_model(entry["model"], where)
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
        self.record("style", preset.slug, created, changed)

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
            wanted = self.weights(entry["entries"], where, "entries")
            current = {e.lora.slug: e.weight for e in combination.entries.select_related("lora")}
            if {lora.slug: weight for lora, weight in wanted} != current:
                combination.entries.all().delete()
                LoraCombinationEntry.objects.bulk_create(
                    LoraCombinationEntry(combination=combination, lora=lora, weight=weight)
                    for lora, weight in wanted
                )
                changed.append("entries")
        self.record("combination", combination.slug, created, changed)

    def weights(self, items: list[dict], where: str, key: str) -> list[tuple[Lora, float]]:
        resolved, seen = [], set()
        for position, item in enumerate(items or []):
            lora = self.lora(item["lora"], f"{where}.{key}[{position}]")
            if lora.slug in seen:
                raise RegistrySyncError(f"{where}.{key}: LoRA {lora.slug!r} is listed twice.")
            seen.add(lora.slug)
            resolved.append((lora, item.get("weight", lora.default_weight)))
        return resolved

    def base_model(self, slug: Any, where: str) -> BaseModel | None:
        if slug is None:
            return None
        model = BaseModel.objects.filter(slug=slug).first()
        if model is None:
            raise RegistrySyncError(f"{where}: unknown model {slug!r}.")
        return model

    def style(self, slug: Any, where: str) -> StylePreset | None:
        if slug is None:
            return None
        preset = StylePreset.objects.filter(slug=slug).first()
        if preset is None:
            raise RegistrySyncError(f"{where}: unknown style {slug!r}.")
        return preset
