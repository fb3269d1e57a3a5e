"""Real worker processes for lifecycle tests: started, watched and killed by the tests."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from tests.conftest import REPO_ROOT

FAST_WORKER_ENV = {
    "ILLU_HEARTBEAT_INTERVAL": "1",
    "ILLU_HEARTBEAT_TTL": "3",
    "ILLU_WARMUP_ON_START": "false",
    "ILLU_RECONCILE_INTERVAL": "3600",  # tests run the reconciler themselves
}


def wait_for(predicate: Callable[[], object], timeout: float = 120, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


class WorkerProcess:
    def __init__(self, env: dict[str, str], name: str):
        self.name = name
        self.log = open(f"/tmp/illu-test-worker-{name}.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "gpu_worker", "--name", name],
            cwd=REPO_ROOT,
            env={**env, **FAST_WORKER_ENV},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 180) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited early:\n{self.output()}")
            return "gpu_worker ready" in self.output()

        wait_for(ready, timeout=timeout, interval=0.3)

    def output(self) -> str:
        with open(self.log.name) as handle:
            return handle.read()

    def kill_hard(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


@pytest.fixture
def start_worker(worker_env):
    started: list[WorkerProcess] = []

    def start(name: str | None = None) -> WorkerProcess:
        worker = WorkerProcess(worker_env, name or f"test-worker-{len(started)}-{time.time_ns()}")
        started.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()
