"""Stored objects and the rows that name them, kept together.

Storage is not transactional, so every path that stores a file for a row goes through
``store_with_rows``: write the objects, write the rows in a transaction, and delete the
objects again if that transaction does not commit. Only a process that dies between the two
(kill -9, a lost machine) can still leave an object that no row names; the periodic sweep
(``core.orphan_sweep``, ``manage.py cleanup --orphans``) removes those after a grace period.
Deleting goes the other way round: rows first, objects once that commits."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from django.core.files.base import File
from django.db import transaction
from django.db.models.fields.files import FieldFile

logger = logging.getLogger(__name__)

T = TypeVar("T")


def store_with_rows(files: Sequence[tuple[FieldFile, str, File]], write_rows: Callable[[], T]) -> T:
    """Save each ``(field_file, name, content)`` (the field's ``upload_to`` makes the key), then
    call ``write_rows`` in a transaction and return what it returns. If anything raises before
    that transaction commits, the objects just written are deleted and the error goes on.

    Called outside any transaction (the services do), the rows commit right here. Inside a
    caller's transaction (the admin wraps every save in one) the rows' commit is that
    transaction's: a rollback there after this returns leaves the objects to the sweep."""
    written: list[FieldFile] = []
    try:
        for field_file, name, content in files:
            field_file.save(name, content, save=False)
            written.append(field_file)
        with transaction.atomic():
            return write_rows()
    except BaseException:
        delete_stored([field_file.name for field_file in written])
        raise


def delete_stored(names: Iterable[str]) -> None:
    """Delete these objects now, best effort: one that cannot be deleted (storage down) is
    logged and left to the sweep, never raised over the error being handled."""
    from django.core.files.storage import default_storage

    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except Exception as exc:  # the sweep removes it later
            logger.warning("could not delete stored object %s: %s", name, exc)


def delete_files_on_commit(names: Iterable[str]) -> None:
    """Delete these objects from the default storage once the current transaction commits
    (at once outside one). Storage is not transactional: deleting only after the commit means
    a rollback never leaves rows pointing at deleted files. Empty names are skipped."""
    from django.core.files.storage import default_storage

    kept = [name for name in names if name]

    def delete() -> None:
        for name in kept:
            default_storage.delete(name)

    if kept:
        transaction.on_commit(delete)
