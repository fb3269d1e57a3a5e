"""A real GPU worker (``manage.py gpu_worker``) that stops for good at one point of its first
job, so a test can kill it there: ``step`` stops it after denoising step PAUSE_AT_STEP (the
job is running, mid-run), ``upload`` after its storage stage's upload and before the commit.
The fault is injected on purpose; everything else is the production worker. The marker file
gets the job's id once the worker stopped there.
Run: python -m tests.generation.lifecycle.paused_worker NAME MARKER_FILE step|upload"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

PAUSE_AT_STEP = 2  # a job of more steps than this is mid-run where the worker stops


def start_paused_worker(start_python, env: dict[str, str], at: str, folder: Path):
    """Start one (returns its process, name and marker file); the caller kills it."""
    from tests.fixtures.lifecycle import FAST_WORKER_ENV

    name = f"paused-{at}-worker-{os.urandom(4).hex()}"  # a killed worker stays in RQ a while
    marker = folder / f"{name}.paused"
    process = start_python(
        ["-m", __name__, name, str(marker), at],
        # Its heartbeat lapses 2 s after the kill; nothing checks it while it is stopped.
        env={**env, **FAST_WORKER_ENV, "ILLU_HEARTBEAT_TTL": "2"},
        log_path=folder / f"{name}.log",
    )
    return process, name, marker


def main() -> None:
    name, marker, at = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illuplatform.settings.base")
    import django

    django.setup()
    from django.core.management import call_command

    def stop_here(job_id: str) -> None:
        marker.write_text(job_id)
        time.sleep(3600)

    if at == "upload":
        from gpu_worker.serving import storage_stage

        real_upload = storage_stage._upload

        def upload_then_stop(job, outcome):
            real_upload(job, outcome)
            stop_here(str(job.id))

        storage_stage._upload = upload_then_stop
    elif at == "step":
        from gpu_worker.step_reporter import StepReporter

        real_step = StepReporter.__call__

        def step_then_stop(reporter, step: int, total: int) -> None:
            real_step(reporter, step, total)
            if step >= PAUSE_AT_STEP:
                stop_here(reporter.job_id)

        StepReporter.__call__ = step_then_stop
    else:
        raise SystemExit(f"pause at 'step' or 'upload', not {at!r}")
    call_command("gpu_worker", "--name", name)


if __name__ == "__main__":
    main()
