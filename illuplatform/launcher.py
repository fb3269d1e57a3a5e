"""`make run`: migrate, prepare the demo, then run Redis (embedded unless REDIS_URL is set), the
GPU worker and the ASGI web server together until Ctrl-C stops all of them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from illuplatform.embedded import start_redis, stop_process

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, check=True)


def wait_until_healthy(url: str, processes: list[subprocess.Popen], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise SystemExit(f"{process.args[2]} exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"The web server did not answer {url} within {timeout:.0f} s")


def main() -> None:
    started = time.monotonic()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illuplatform.settings.base")
    var_dir = Path(os.environ.get("ILLU_VAR_DIR", ROOT / "var"))
    port = os.environ.get("PORT", "8000")
    processes: list[subprocess.Popen] = []
    redis: subprocess.Popen | None = None

    if not os.environ.get("REDIS_URL"):
        url, redis = start_redis(var_dir / "run")
        os.environ["REDIS_URL"] = url
        print(f"Embedded Redis at {url}", flush=True)
    try:
        manage("migrate", "--noinput", "-v", "0")
        manage("bootstrap_demo")
        worker = subprocess.Popen([sys.executable, "manage.py", "gpu_worker"], cwd=ROOT)
        webhooks = subprocess.Popen([sys.executable, "manage.py", "webhook_worker"], cwd=ROOT)
        web = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "illuplatform.asgi:application",
             "--host", "127.0.0.1", "--port", port],
            cwd=ROOT,
        )  # fmt: skip
        processes += [worker, webhooks, web]
        wait_until_healthy(f"http://127.0.0.1:{port}/health/", processes)
        print(
            f"illuplatform ready at http://127.0.0.1:{port} "
            f"({time.monotonic() - started:.1f} s). Ctrl-C stops everything.",
            flush=True,
        )
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        _stop(processes)
        if redis is not None:
            _stop([redis])  # last: the workers need it until they have exited


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:  # signal all first, so they shut down side by side
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        stop_process(process)


if __name__ == "__main__":
    main()
