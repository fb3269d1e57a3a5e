"""Hugging Face Hub sources: ``org/name[@revision][/path/in/repo]``, resolved through the
standard Hugging Face cache with ``huggingface_hub``.

Every model setting accepts such an id: a whole repository (``xinsir/controlnet-union-sdxl-1.0``),
a folder in it (``stabilityai/stable-diffusion-xl-base-1.0/vae``) or one file
(``h94/IP-Adapter/sdxl_models/ip-adapter_sdxl.safetensors``). Only the files the loader will
read are fetched (one weights variant, never pickle formats), into the cache that
``HF_HUB_CACHE`` names, laid out as ``huggingface_hub`` always does (``models--org--name/blobs``,
``snapshots/<commit>/...`` links, ``refs/<revision>``). With ``HF_HUB_OFFLINE=1`` nothing is
downloaded: the files must already be in that cache, and a missing one is a clear error.
Both variables are read on every call, so a process may set them after importing this module.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import ModelUnavailable

logger = logging.getLogger(__name__)

_REPO_PART = r"[A-Za-z0-9][\w.-]*"
_HUB_ID = re.compile(
    rf"^(?P<repo>{_REPO_PART}/{_REPO_PART})(?:@(?P<revision>[\w.-]+))?(?:/(?P<path>\S+))?$"
)
FP16 = "fp16"
# Weights file stems the loaders read by default (diffusers models, transformers models).
_STANDARD_STEMS = ("diffusion_pytorch_model", "model")
_SHARD = r"(?:-\d{5}-of-\d{5})?"


@dataclass(frozen=True)
class HubRef:
    repo_id: str
    revision: str | None = None
    path: str = ""  # a folder or a file inside the repository; "" for its root

    def __str__(self) -> str:
        text = self.repo_id + (f"@{self.revision}" if self.revision else "")
        return f"{text}/{self.path}" if self.path else text


def parse_hub_ref(source: str) -> HubRef | None:
    """The hub reference ``source`` spells, or None when it is not one."""
    match = _HUB_ID.match(source.strip())
    if match is None or ".." in source:
        return None
    return HubRef(match["repo"], match["revision"], (match["path"] or "").strip("/"))


def hub_offline() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE")
    if value is not None:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def hub_cache_dir() -> str:
    from huggingface_hub import constants

    return os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE


def repo_files(ref: HubRef) -> list[str]:
    """Every file path of the repository at ``ref.revision`` (offline: of its cached snapshot)."""
    if hub_offline():
        return sorted(
            path.relative_to(snapshot).as_posix()
            for snapshot in [cached_snapshot(ref)]
            for path in snapshot.rglob("*")
            if path.is_file()
        )
    from huggingface_hub import HfApi

    try:
        return sorted(HfApi().list_repo_files(ref.repo_id, revision=ref.revision))
    except Exception as exc:  # network, auth, unknown repo: all mean "not available"
        raise ModelUnavailable(f"Cannot list the Hugging Face repository {ref}: {exc}") from exc


def cached_snapshot(ref: HubRef) -> Path:
    """The snapshot folder of ``ref`` in the local cache, without any network access."""
    from huggingface_hub import snapshot_download

    try:
        return Path(
            snapshot_download(
                ref.repo_id,
                revision=ref.revision,
                cache_dir=hub_cache_dir(),
                local_files_only=True,
            )
        )
    except Exception as exc:  # LocalEntryNotFoundError and friends
        raise ModelUnavailable(
            f"{ref.repo_id} is not in the Hugging Face cache {hub_cache_dir()} and HF_HUB_OFFLINE "
            f"is set: download it on a machine with internet or point HF_HUB_CACHE at a copy."
        ) from exc


def fetch_files(ref: HubRef, files: Iterable[str]) -> Path:
    """Make ``files`` (repository paths) present in the cache; returns the snapshot folder."""
    files = sorted(set(files))
    if not files:
        raise ModelUnavailable(f"Nothing to load in the Hugging Face repository {ref}.")
    if hub_offline():
        snapshot = cached_snapshot(ref)
    else:
        from huggingface_hub import snapshot_download

        logger.info("fetching %d file(s) of %s into %s", len(files), ref, hub_cache_dir())
        try:
            snapshot = Path(
                snapshot_download(
                    ref.repo_id,
                    revision=ref.revision,
                    cache_dir=hub_cache_dir(),
                    allow_patterns=[_literal_pattern(name) for name in files],
                )
            )
        except Exception as exc:
            raise ModelUnavailable(f"Cannot download {ref} from the Hub: {exc}") from exc
    missing = [name for name in files if not (snapshot / name).is_file()]
    if missing:
        raise ModelUnavailable(f"{ref}: {', '.join(missing)} not in the Hugging Face cache.")
    return snapshot


Chooser = Callable[[list[str], HubRef], list[str]]


def resolve_hub(ref: HubRef, choose: Chooser) -> Path:
    """Fetch what ``choose(repo files, ref)`` picks; return the local path of ``ref.path``
    (the snapshot's folder or file)."""
    listing = repo_files(ref)
    if (
        ref.path
        and ref.path not in listing
        and not any(name.startswith(ref.path + "/") for name in listing)
    ):
        raise ModelUnavailable(f"{ref}: no {ref.path!r} in the repository {ref.repo_id}.")
    snapshot = fetch_files(ref, choose(listing, ref))
    return snapshot / ref.path if ref.path else snapshot


def _literal_pattern(name: str) -> str:
    """An fnmatch pattern matching exactly ``name`` (brackets are its only metacharacters
    that can occur in repository paths besides * and ?)."""
    return re.sub(r"([\[\]*?])", r"[\1]", name)


# --- which files a loader reads -------------------------------------------------------------


def in_folder(files: Iterable[str], folder: str) -> list[str]:
    """Names of the files directly in ``folder`` ("" for the root)."""
    folder = folder.strip("/")
    return sorted(
        name
        for name in files
        if str(PurePosixPath(name).parent) == (folder or ".") or (not folder and "/" not in name)
    )


def weights_choice(names: Iterable[str], prefer_fp16: bool) -> tuple[list[str], str | None]:
    """The standard weights files of one model folder to load, and their variant.

    ``names`` are file names (no folders). The fp16 variant (``*.fp16.safetensors``, sharded
    or not) is taken when ``prefer_fp16`` and it exists, or when it is all there is; else the
    plain files. Pickle formats are never chosen.
    """
    names = [PurePosixPath(name).name for name in names]
    stems = "|".join(_STANDARD_STEMS)
    plain = re.compile(
        rf"^(?:{stems}){_SHARD}\.safetensors$|^(?:{stems})\.safetensors\.index\.json$"
    )
    variant = re.compile(
        rf"^(?:{stems})(?:\.{FP16}{_SHARD}|{_SHARD}\.{FP16})\.safetensors$"
        rf"|^(?:{stems})\.safetensors\.index\.{FP16}\.json$"
    )
    plain_files = [name for name in names if plain.match(name)]
    variant_files = [name for name in names if variant.match(name)]
    if variant_files and (prefer_fp16 or not plain_files):
        return variant_files, FP16
    return plain_files, None


def choose_model_folder(prefer_fp16: bool) -> Chooser:
    """A diffusers or transformers model folder: its configs and one variant of its weights."""

    def choose(files: list[str], ref: HubRef) -> list[str]:
        return model_folder_files(files, ref.path, prefer_fp16)

    return choose


def model_folder_files(files: list[str], folder: str, prefer_fp16: bool) -> list[str]:
    """Configs and one weights variant of the model folder ``folder`` (repository paths)."""
    names = in_folder(files, folder)
    weights, _ = weights_choice(names, prefer_fp16)
    configs = [name for name in names if name.endswith((".json", ".txt", ".model"))]
    configs = [name for name in configs if ".safetensors.index" not in name]
    return configs + [_join(folder, name) for name in weights]


def choose_pipeline(prefer_fp16: bool) -> Chooser:
    """A diffusers pipeline: model_index.json, then each component folder it lists, one
    weights variant each (folders it does not list, like ``vae_1_0``, are skipped)."""

    def choose(files: list[str], ref: HubRef) -> list[str]:
        index = _join(ref.path, "model_index.json")
        if index not in files:
            raise ModelUnavailable(f"{ref}: no diffusers pipeline (model_index.json missing).")
        snapshot = fetch_files(ref, [index])
        chosen = [index]
        for component in pipeline_components(snapshot / index):
            chosen += model_folder_files(files, _join(ref.path, component), prefer_fp16)
        return chosen

    return choose


def pipeline_components(model_index: Path) -> list[str]:
    """The component folders a ``model_index.json`` lists (those with a class)."""
    import json

    index = json.loads(Path(model_index).read_text())
    return sorted(
        name
        for name, value in index.items()
        if not name.startswith("_") and isinstance(value, list) and value[-1] is not None
    )


def choose_configs(files: list[str], ref: HubRef) -> list[str]:
    """The configuration files of a pipeline (a single-file checkpoint's config source)."""
    folder = ref.path
    prefix = folder + "/" if folder else ""
    return [
        name
        for name in files
        if name.startswith(prefix) and name.endswith((".json", ".txt", ".model"))
        and ".safetensors.index" not in name
    ]  # fmt: skip


def choose_file(files: list[str], ref: HubRef) -> list[str]:
    if ref.path not in files:
        raise ModelUnavailable(f"{ref}: no such file in the repository.")
    return [ref.path]


def _join(folder: str, name: str) -> str:
    name = PurePosixPath(name).name
    return f"{folder}/{name}" if folder else name


def choose_file_with_configs(files: list[str], ref: HubRef) -> list[str]:
    """One weights file and the configs beside it (xinsir's ``_promax`` file with its
    ``config_promax.json``)."""
    folder = str(PurePosixPath(ref.path).parent).removeprefix(".")
    configs = [name for name in in_folder(files, folder) if name.endswith(".json")]
    return [*choose_file(files, ref), *configs]


# --- the same choices for folders already on disk --------------------------------------------


def local_listing(root: Path) -> list[str]:
    """Every file under ``root`` as a relative POSIX path (links followed, as in a snapshot)."""
    root = Path(root)
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def model_folder_weights(folder: Path, prefer_fp16: bool) -> tuple[list[Path], str | None]:
    """The weights files a loader reads from a model folder on disk, and their variant."""
    folder = Path(folder)
    names = [p.name for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    chosen, variant = weights_choice(names, prefer_fp16)
    return [folder / name for name in chosen if name.endswith(".safetensors")], variant


def pipeline_weights(root: Path, prefer_fp16: bool) -> tuple[list[Path], str | None]:
    """The weights files ``from_pretrained`` reads from a pipeline folder, and the variant to
    ask for: fp16 when any component publishes it and it is preferred (or all there is)."""
    root = Path(root)
    components = pipeline_components(root / "model_index.json")
    per_component = [model_folder_weights(root / name, prefer_fp16) for name in components]
    variant = FP16 if any(v == FP16 for _, v in per_component) else None
    if variant is not None:  # diffusers takes one variant for all (plain where one lacks it)
        per_component = [model_folder_weights(root / name, True) for name in components]
    return [path for files, _ in per_component for path in files], variant
