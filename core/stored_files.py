"""Removing stored objects together with the rows that point at them."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction


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
