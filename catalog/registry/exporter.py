"""Export: the registry as one YAML file, with the LoRA files copied into a folder beside it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ..models import BaseModel, Lora, LoraCombination, StylePreset
from .schema import (
    LORA_FIELDS,
    MODEL_FIELDS,
    SCHEMA_VERSION,
    STYLE_FIELDS,
    RegistrySyncError,
    sections,
)


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
        "models": [
            {"slug": model.slug, **{key: getattr(model, key) for key in MODEL_FIELDS}}
            for model in BaseModel.objects.order_by("slug")
        ],
        "loras": loras,
        "combinations": [_export_combination(c) for c in LoraCombination.objects.order_by("slug")],
        "styles": [
            {
                "slug": style.slug,
                **{key: getattr(style, key) for key in STYLE_FIELDS},
                "model": style.base_model.slug if style.base_model else None,
            }
            for style in StylePreset.objects.select_related("base_model").order_by("slug")
        ],
    }
    for section in sections():
        if section.export is not None:
            document[section.name] = section.export()
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), "utf-8")
    return {section.name: len(document[section.name]) for section in sections()}


def _export_combination(combination: LoraCombination) -> dict[str, Any]:
    entries = combination.entries.select_related("lora").order_by("lora__slug")
    return {
        "slug": combination.slug,
        "name": combination.name,
        "description": combination.description,
        "entries": [{"lora": e.lora.slug, "weight": e.weight} for e in entries],
    }
