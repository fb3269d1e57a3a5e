"""A real GPU worker (``manage.py gpu_worker``) that holds a training run right after training
step HOLD_AT_STEP, until the test lets it go: the run is running, mid-run, and takes no
further step (nor asks whether to give way to image jobs) meanwhile, however fast or slow the
machine. Once held it writes the run's id to its ``held`` file, then waits for its
``release`` file; once that exists no run is held again. The hold is injected on purpose;
everything else is the production worker.
Run: python -m tests.training.lifecycle.held_trainer NAME HELD_FILE RELEASE_FILE"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

HOLD_AT_STEP = 1  # a run of more steps than this is mid-run where the worker holds it


def start_held_trainer(start_python, env: dict[str, str], folder: Path):
    """Start one; returns a WorkerProcess (wait_ready, output, stop) with ``held`` (the file
    it writes once holding a run) and ``release`` (call it to let the run go on)."""
    from tests.fixtures.lifecycle import FAST_WORKER_ENV, WorkerProcess

    name = f"held-trainer-{os.urandom(4).hex()}"
    held, release = folder / f"{name}.held", folder / f"{name}.release"
    worker = WorkerProcess.__new__(WorkerProcess)  # its methods, with this module's argv
    worker.name, worker.log_path = name, folder / f"{name}.log"
    worker.process = start_python(
        ["-m", __name__, name, str(held), str(release)],
        env={**env, **FAST_WORKER_ENV},
        log_path=worker.log_path,
    )
    worker.held, worker.release = held, release.touch
    return worker


def main() -> None:
    name, held, release = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illuplatform.settings.base")
    import django

    django.setup()
    from django.core.management import call_command

    from gpu_worker.training_tasks import TrainingReporter

    real_step = TrainingReporter.__call__

    def step_then_hold(reporter, report) -> None:
        real_step(reporter, report)  # the cancel check and the step's progress event
        if report.step >= HOLD_AT_STEP and not release.exists():
            held.write_text(reporter.run_id)
            while not release.exists():
                time.sleep(0.01)

    TrainingReporter.__call__ = step_then_hold
    call_command("gpu_worker", "--name", name)


if __name__ == "__main__":
    main()
