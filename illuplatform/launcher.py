"""`make run`: migrate, prepare the demo, then run Redis (embedded unless REDIS_URL is set), the
GPU worker, the webhook worker and the ASGI web server under supervisord until Ctrl-C or a
SIGTERM of the process group stops all of them. See illuplatform/supervision.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from illuplatform.embedded import stop_process
from illuplatform.supervision import (
    AlreadyRunning,
    StackPaths,
    hold_single_instance_lock,
    program_commands,
    supervisord_command,
    write_config,
)

ROOT = Path(__file__).resolve().parent.parent
# supervisord stops each program within its stopwaitsecs (15 s at most), one group at a time.
_SUPERVISOR_STOP_TIMEOUT_S = 60


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, check=True)


def wait_until_healthy(url: str, supervisor: subprocess.Popen, timeout: float = 180) -> bool:
    """True once ``url`` answers 200; False if supervisord ended first (stopped by a signal)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if supervisor.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"The web server did not answer {url} within {timeout:.0f} s")


def main() -> None:
    started = time.monotonic()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illuplatform.settings.base")
    paths = StackPaths(Path(os.environ.get("ILLU_VAR_DIR", ROOT / "var")).resolve())
    port = int(os.environ.get("PORT", "8000"))
    base_url = f"http://127.0.0.1:{port}"
    try:
        lock = hold_single_instance_lock(paths, {"pid": os.getpid(), "url": base_url})
    except AlreadyRunning as running:
        print(
            f"illuplatform is already running from {paths.var_dir} "
            f"(launcher pid {running.info.get('pid', '?')}, {running.info.get('url', '?')}); "
            "stop it (Ctrl-C in its terminal) before starting another.",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(1)

    embedded_redis = not os.environ.get("REDIS_URL")
    if embedded_redis:
        os.environ["REDIS_URL"] = f"unix://{paths.redis_socket}"
        print(f"Embedded Redis at {os.environ['REDIS_URL']} (AOF in {paths.redis_dir})")
    manage("migrate", "--noinput", "-v", "0")
    manage("bootstrap_demo")

    write_config(paths, root=ROOT, port=port, embedded_redis=embedded_redis)
    supervisor = subprocess.Popen(supervisord_command(paths), cwd=ROOT)
    _stop_supervisor_on_signals(supervisor)
    try:
        print("Logs:", flush=True)
        for program in program_commands(paths, port=port, embedded_redis=embedded_redis):
            print(f"  {program:<18} {paths.log_file(program)}", flush=True)
        print(f"  {'supervisord':<18} {paths.log_file('supervisord')}", flush=True)
        if not wait_until_healthy(f"{base_url}/health/", supervisor):
            raise SystemExit(f"supervisord stopped (exit code {supervisor.returncode})")
        print(
            f"illuplatform ready at {base_url} ({time.monotonic() - started:.1f} s); "
            "supervisord restarts any process that dies. Ctrl-C stops everything.",
            flush=True,
        )
        supervisor.wait()
    finally:
        stop_process(supervisor, timeout=_SUPERVISOR_STOP_TIMEOUT_S)
        lock.close()


def _stop_supervisor_on_signals(supervisor: subprocess.Popen) -> None:
    """Ctrl-C or SIGTERM of the group reaches supervisord too (same process group; its
    programs each have their own); make sure it got one, then wait for it to stop them all."""

    def forward(signum, frame) -> None:
        if supervisor.poll() is None:
            supervisor.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)


if __name__ == "__main__":
    main()
