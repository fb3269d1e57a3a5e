"""Worker heartbeats: a daemon thread writes the worker's state to a Redis hash with a TTL.

RQ's SimpleWorker sends no heartbeat while a job runs, and RQ knows nothing of devices or
models; this hash (``illu:worker:<name>``) says which workers are alive right now, what they
hold in memory and what they are running. ``work.workers.live_workers()`` reads
them all (reconciler, metrics, health).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from work.heartbeat import Heartbeat, remove_heartbeat, write_heartbeat

__all__ = ["Heartbeat", "remove_heartbeat", "write_heartbeat", "start_heartbeat", "worker_state"]

logger = logging.getLogger(__name__)


def memory_snapshot(device: str) -> dict[str, Any]:
    """Device memory for CUDA (whole device, as nvidia-smi shows it), else this process's RSS."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        index = torch.device(device)
        free, total = torch.cuda.mem_get_info(index)
        return {
            "memory_kind": "cuda",
            "memory_total": total,
            "memory_used": total - free,
            "memory_reserved": torch.cuda.memory_reserved(index),  # this process's allocator
        }
    import psutil

    return {
        "memory_kind": "rss",
        "memory_total": psutil.virtual_memory().total,
        "memory_used": psutil.Process().memory_info().rss,
        "memory_reserved": 0,
    }


def worker_state(
    *,
    name: str,
    device: str,
    models: list[str],
    current_job: str | None,
    held_jobs: list[str] | None = None,
    compile_status: dict[str, Any] | None = None,
    residency: dict[str, Any] | None = None,
    resident_models: list[str] | None = None,
) -> dict[str, Any]:
    compiled = compile_status or {}
    residency = residency or {}
    return {
        "name": name,
        "device": device,
        **memory_snapshot(device),
        "models": models,
        # Base models on the device by registry slug (routing and GET /api/v1/models/ read
        # it), the residency budget, how many more fit without pushing one out, and the
        # loads that were not already resident (model switches) since the worker started.
        "resident_models": resident_models if resident_models is not None else models,
        "host_models": residency.get("host", []),
        "memory_budget": residency.get("budget_bytes", 0),
        "model_room": residency.get("room", 0),
        "model_switches": residency.get("switches", 0),
        "current_job": current_job or "",
        # Every job this worker holds: its batch and the jobs in its storage stage.
        "jobs": held_jobs or [],
        # torch.compile after the warm-up (Engine.status()["compile"]): both stay 0 when well.
        "compile_graphs_after_warmup": compiled.get("graphs_after_warmup", 0),
        "compile_eager_fallbacks": compiled.get("eager_fallbacks", 0),
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "time": time.time(),
    }


def start_heartbeat(worker, engine, *, interval: float, ttl: int) -> Heartbeat:
    """Start beating for an RQ ``worker`` that runs ``engine``; the first beat is synchronous,
    so the worker is visible as soon as this returns."""

    from .job_models import resident_slugs
    from .serving.fleet import with_arriving
    from .serving.state import STATE

    def state() -> dict[str, Any]:
        residency = engine.pipelines.status()
        # The model of the batch it serves counts as held while it loads (routing reads it).
        serving = STATE.serving_model if worker.get_current_job_id() else None
        slugs = with_arriving(
            resident_slugs(residency["resident"]), serving, residency.get("room", 0)
        )
        return worker_state(
            name=worker.name,
            device=engine.profile.device,
            models=residency["resident"],
            current_job=worker.get_current_job_id(),
            held_jobs=STATE.held_jobs(),
            compile_status=engine.compiler.status(),
            residency=residency,
            resident_models=slugs,
        )

    heartbeat = Heartbeat(worker.connection, state, interval=interval, ttl=ttl)
    heartbeat.beat()
    heartbeat.start()
    return heartbeat
