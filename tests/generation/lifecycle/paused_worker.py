"""A real GPU worker (``manage.py gpu_worker``) that stops at one point of a job, so a test
can act while the job is provably there: ``step`` stops it for good after denoising step
PAUSE_AT_STEP (the job is running, mid-run), ``upload`` after its storage stage's upload and
before the commit (tests kill it there); ``hold`` stops it after step PAUSE_AT_STEP of a run
only while a gate file exists, and goes on once the test removes it (a cancel or a kill
lands mid-run, then the run continues). The fault is injected on purpose; everything else is
the production worker. The marker file gets the job's id once the worker stopped there.
Run: python -m tests.generation.lifecycle.paused_worker NAME MARKER_FILE step|upload
     python -m tests.generation.lifecycle.paused_worker NAME MARKER_FILE hold GATE_FILE"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tests.fixtures.lifecycle import FAST_WORKER_ENV, WorkerProcess, stop_workers

PAUSE_AT_STEP = 2  # a job of more steps than this is mid-run where the worker stops


def start_paused_worker(start_python, env: dict[str, str], at: str, folder: Path):
    """Start one (returns its process, name and marker file); the caller kills it."""
    name = f"paused-{at}-worker-{os.urandom(4).hex()}"  # a killed worker stays in RQ a while
    marker = folder / f"{name}.paused"
    process = start_python(
        ["-m", __name__, name, str(marker), at],
        # Its heartbeat lapses 2 s after the kill; nothing checks it while it is stopped.
        env={**env, **FAST_WORKER_ENV, "ILLU_HEARTBEAT_TTL": "2"},
        log_path=folder / f"{name}.log",
    )
    return process, name, marker


class HoldingWorker(WorkerProcess):
    """A worker (as ``start_workers``'s) that holds after step PAUSE_AT_STEP of a run while
    ``gate`` exists, its ``marker`` then naming the job; removing the gate lets it go on."""

    def __init__(self, start_python, env: dict[str, str], name: str, gate: Path):
        self.name = name
        self.gate = gate
        self.marker = gate.parent / f"{name}.held"
        self.log_path = gate.parent / f"{name}.log"
        self.process = start_python(
            ["-m", __name__, name, str(self.marker), "hold", str(gate)],
            env={**env, **FAST_WORKER_ENV},
            log_path=self.log_path,
        )

    def held_job(self) -> str | None:
        """The id of the job it holds (or held), once it stopped at the gate."""
        return self.marker.read_text() if self.marker.exists() else None


def start_holding_workers(
    start_python, env: dict[str, str], names: list[str], gate: Path
) -> list[HoldingWorker]:
    """Start several at once (their start-ups overlap), then wait until all are ready."""
    workers = [HoldingWorker(start_python, env, name, gate) for name in names]
    try:
        for worker in workers:
            worker.wait_ready()
    except BaseException:
        stop_workers(workers)
        raise
    return workers


def main() -> None:
    name, marker, at = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illuplatform.settings.base")
    import django

    django.setup()
    from django.core.management import call_command

    def mark(job_id: str) -> None:
        written = marker.with_name(marker.name + ".part")  # the marker appears whole
        written.write_text(job_id)
        written.replace(marker)

    def stop_here(job_id: str) -> None:
        mark(job_id)
        time.sleep(3600)

    if at == "upload":
        from gpu_worker.serving import storage_stage

        real_upload = storage_stage._upload

        def upload_then_stop(job, outcome):
            real_upload(job, outcome)
            stop_here(str(job.id))

        storage_stage._upload = upload_then_stop
    elif at in ("step", "hold"):
        from gpu_worker.step_reporter import StepReporter

        real_step = StepReporter.__call__
        gate = Path(sys.argv[4]) if at == "hold" else None

        def hold_while_gated(job_id: str) -> None:
            mark(job_id)  # the gate still exists: the marker is there while it holds
            while gate.exists():
                time.sleep(0.05)

        def step_then_stop(reporter, step: int, total: int) -> None:
            real_step(reporter, step, total)
            if step == PAUSE_AT_STEP and gate is not None and gate.exists():
                hold_while_gated(reporter.job_id)
            elif step >= PAUSE_AT_STEP and gate is None:
                stop_here(reporter.job_id)

        StepReporter.__call__ = step_then_stop
    else:
        raise SystemExit(f"pause at 'step', 'upload' or 'hold', not {at!r}")
    call_command("gpu_worker", "--name", name)


if __name__ == "__main__":
    main()
