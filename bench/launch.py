"""One way to start the Python processes of a benchmark or a test: ``python <argv>`` in the
repository root, its output appended to a log file (stderr to a file of its own if asked).

When ``ILLU_PREFORK_SOCKET`` names a live prefork server (bench/prefork.py; the test session
starts one), the process is forked from it and skips importing torch and diffusers again;
otherwise it is a plain subprocess. Either way the caller gets the Popen methods it needs."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from .common import REPO_ROOT
from .prefork import PREFORK_SOCKET_ENV, spawn


def start_python(
    argv: list[str],
    *,
    env: dict[str, str],
    log_path: Path,
    cwd: Path = REPO_ROOT,
    stderr_path: Path | None = None,
):
    """Start ``python <argv>`` (["manage.py", ...] or ["-m", "module", ...]) with ``env``;
    stdout goes to ``log_path``, stderr too unless ``stderr_path`` is given."""
    for path in (log_path, stderr_path):
        if path:
            Path(path).touch()  # readable at once, before the child opens it
    socket_path = env.get(PREFORK_SOCKET_ENV) or os.environ.get(PREFORK_SOCKET_ENV)
    if socket_path and Path(socket_path).exists():
        return spawn(
            socket_path, argv, env=env, log_path=log_path, cwd=cwd, stderr_path=stderr_path
        )
    with contextlib.ExitStack() as files:
        log = files.enter_context(open(log_path, "a"))
        errors = files.enter_context(open(stderr_path, "a")) if stderr_path else subprocess.STDOUT
        return subprocess.Popen(
            [sys.executable, *argv], cwd=cwd, env=env, stdout=log, stderr=errors
        )


def run_python(
    argv: list[str], *, env: dict[str, str], log_path: Path, timeout: float
) -> tuple[int, str]:
    """Run ``python <argv>`` to the end; returns its exit status and its whole output."""
    process = start_python(argv, env=env, log_path=log_path)
    try:
        code = process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    return code, Path(log_path).read_text(errors="replace")
