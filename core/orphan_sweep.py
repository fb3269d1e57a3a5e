"""The sweep of stored objects that no row names: what a process killed between writing an
object and committing its row left behind (``core.stored_files``).

Each app registers the key prefixes its rows' files live under and how to tell which of a list
of names its rows hold (``register_stored_prefix``, from its AppConfig.ready: core knows no
app). The sweep lists every object under those prefixes, keeps the ones younger than the grace
period (a write whose row is about to commit; the grace must be longer than any write takes to
commit, ILLU_ORPHAN_GRACE_SECONDS) and the ones a row names, and deletes the rest. Keys are
fresh uuids, so no row ever comes to name an object that was already old."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

logger = logging.getLogger(__name__)

# Names asked about in one query: large enough to be quick, small enough for any database.
CHUNK = 500

NamedBy = Callable[[list[str]], set[str]]


@dataclass(frozen=True)
class StoredPrefix:
    prefix: str  # "uploads/"
    named: NamedBy  # which of the given names a row holds


_PREFIXES: dict[str, StoredPrefix] = {}


def register_stored_prefix(prefix: str, named: NamedBy) -> None:
    """Objects under ``prefix`` belong to rows; ``named(names)`` returns those a row holds."""
    if not prefix.endswith("/"):
        raise ValueError(f"A stored prefix ends with '/': {prefix!r}")
    _PREFIXES[prefix] = StoredPrefix(prefix, named)


def stored_prefixes() -> list[StoredPrefix]:
    return [_PREFIXES[prefix] for prefix in sorted(_PREFIXES)]


def named_by_fields(model, *fields: str) -> NamedBy:
    """``named`` for objects a model's file fields hold (one query per field)."""

    def named(names: list[str]) -> set[str]:
        found: set[str] = set()
        for name in fields:
            rows = model.objects.filter(**{f"{name}__in": names})
            found.update(rows.values_list(name, flat=True))
        return found

    return named


@dataclass
class SweepResult:
    cutoff: datetime
    orphans: list[str] = field(default_factory=list)  # removed, or to remove in a dry run
    kept_young: int = 0  # unnamed but inside the grace period
    named: int = 0
    deleted: bool = False


def sweep_orphans(
    *, grace: timedelta, dry_run: bool = True, now: datetime | None = None, storage=None
) -> SweepResult:
    """Delete stored objects under the registered prefixes that no row names and that are
    older than ``grace``. With ``dry_run`` (the default) nothing is deleted; the result says
    what would be."""
    from django.core.files.storage import default_storage

    storage = storage or default_storage
    result = SweepResult(cutoff=(now or datetime.now(UTC)) - grace)
    for entry in stored_prefixes():
        old = []
        for name, modified in list_stored(storage, entry.prefix):
            if modified > result.cutoff:
                result.kept_young += 1
            else:
                old.append(name)
        for start in range(0, len(old), CHUNK):
            chunk = old[start : start + CHUNK]
            named = entry.named(chunk)
            result.named += len(named)
            result.orphans += [name for name in chunk if name not in named]
    if not dry_run:
        for name in result.orphans:
            storage.delete(name)
        result.deleted = True
        if result.orphans:
            logger.info("removed %d stored objects no row names", len(result.orphans))
    return result


def list_stored(storage, prefix: str) -> Iterator[tuple[str, datetime]]:
    """Every object under ``prefix`` as (name, last modified, UTC): one listing request per
    1,000 objects on S3, a directory walk on local storage."""
    if hasattr(storage, "bucket"):  # django-storages' S3Storage
        yield from _list_s3(storage, prefix)
    elif hasattr(storage, "location") and hasattr(storage, "path"):  # FileSystemStorage
        yield from _list_local(storage, prefix)
    else:
        yield from _list_any(storage, prefix.rstrip("/"))


def _list_s3(storage, prefix: str) -> Iterator[tuple[str, datetime]]:
    location = (storage.location or "").strip("/")
    full = f"{location}/{prefix}" if location else prefix
    for item in storage.bucket.objects.filter(Prefix=full):
        name = item.key[len(location) + 1 :] if location else item.key
        yield name, item.last_modified.astimezone(UTC)


def _list_local(storage, prefix: str) -> Iterator[tuple[str, datetime]]:
    root = Path(storage.location)
    top = root / prefix
    if not top.is_dir():
        return
    for folder, _, files in os.walk(top):
        for filename in files:
            path = Path(folder) / filename
            try:
                modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            except FileNotFoundError:  # deleted meanwhile
                continue
            yield path.relative_to(root).as_posix(), modified


def _list_any(storage, folder: str) -> Iterable[tuple[str, datetime]]:
    directories, files = storage.listdir(folder)
    for filename in files:
        name = f"{folder}/{filename}"
        yield name, storage.get_modified_time(name).astimezone(UTC)
    for directory in directories:
        yield from _list_any(storage, f"{folder}/{directory}")
