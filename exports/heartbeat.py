"""An export's heartbeat: while an export runs, its process (the RQ work horse) beats under
``EXPORT_HEARTBEAT_PREFIX`` with the export as its current job, so the shared reconciler
(``work.reconcile``, through ``ExportWork.heartbeat_prefix``) leaves it alone and puts back an
export whose process is gone once the beat expires (ILLU_HEARTBEAT_TTL)."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings

from work.heartbeat import Heartbeat
from work.redis_queue import get_redis

# Not the GPU workers' prefix: counts of GPU workers (queue position, health) exclude these.
EXPORT_HEARTBEAT_PREFIX = "illu:export-worker:"


def worker_name() -> str:
    """The name an export is claimed under: this process."""
    return f"export-{socket.gethostname()}-{os.getpid()}"


@contextlib.contextmanager
def export_heartbeat(export_id: str) -> Iterator[Heartbeat]:
    """Beat (synchronously once, then every ILLU_HEARTBEAT_INTERVAL) while the block runs;
    the hash is removed when it ends."""

    def state() -> dict[str, Any]:
        return {
            "name": worker_name(),
            "current_job": export_id,
            "jobs": [export_id],
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "time": time.time(),
        }

    heartbeat = Heartbeat(
        get_redis(),
        state,
        interval=settings.ILLU_HEARTBEAT_INTERVAL,
        ttl=settings.ILLU_HEARTBEAT_TTL,
        prefix=EXPORT_HEARTBEAT_PREFIX,
    )
    heartbeat.beat()
    heartbeat.start()
    try:
        yield heartbeat
    finally:
        heartbeat.stop()
