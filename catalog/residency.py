"""Which live GPU workers hold each base model, from their heartbeats' ``resident_models``.

The heartbeats are read by the work app, which sits above the catalog: it registers its reader
here when it starts (``work/apps.py``), as the characters app registers its registry section;
the catalog never imports it. Until one is registered, no worker holds anything."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

WorkerReader = Callable[[], list[dict[str, Any]]]
_reader: list[WorkerReader] = []


def register_worker_reader(reader: WorkerReader) -> None:
    """Set the function listing the live workers' heartbeat states (each with ``name``)."""
    _reader[:] = [reader]


def model_residency() -> dict[str, list[str]]:
    """Model slug -> names of the live workers holding it (a worker that does not report
    ``resident_models`` holds none)."""
    residency: dict[str, list[str]] = {}
    for worker in _reader[0]() if _reader else []:
        resident = worker.get("resident_models") or []
        if isinstance(resident, str | bytes):  # the raw hash field (JSON) when left undecoded
            resident = json.loads(resident or "[]")
        for slug in resident:
            residency.setdefault(slug, []).append(worker["name"])
    return residency
