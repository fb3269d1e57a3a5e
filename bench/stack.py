"""The platform as the benchmarks run it: database, Redis and S3, the ASGI server (uvicorn) and
GPU worker processes, each a real process on loopback.

Services come from the environment when set (DATABASE_URL, REDIS_URL, AWS_S3_ENDPOINT_URL with
the AWS_* credentials), else embedded ones are started. A Postgres server gets a scratch
database (created, then dropped), never the tables of the one DATABASE_URL names. Give the
benchmark a Redis database of its own: workers take whatever is on the gpu queues.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from illuplatform.embedded import stop_process

from .launch import run_python, start_python

QUEUE_NAMES = ("gpu-high", "gpu", "gpu-low")
_UNLIMITED = "1000000"  # quotas off: the benchmark measures the platform, not its limits


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _seaweed_ports(count: int) -> list[int]:
    """Ports p whose gRPC twins p+10000 are also free (SeaweedFS listens on both)."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randint(20000, 50000)
        if port not in ports and _port_free(port) and _port_free(port + 10000):
            ports.append(port)
    return ports


# Run by `manage.py shell -c` (see Stack.prepare).
SETUP_SCRIPT = """
import json, uuid
from django.core.management import call_command
from accounts.services import api_token_create, user_create
call_command("migrate", "--noinput", verbosity=0)
tokens = {{}}
for name, staff in json.loads('{users}').items():
    user = user_create(username=name, password=name + "-" + uuid.uuid4().hex, is_staff=staff)
    tokens[name] = api_token_create(user=user, name="bench")[1]
models = {{}}
if {demo_models}:
    from gpu_worker.demo_models import ensure_demo_models
    models = ensure_demo_models()
with open({result!r}, "w") as out:
    json.dump({{"tokens": tokens, "demo_models": models}}, out)
"""


class Stack(contextlib.ExitStack):
    """Use as a context manager; everything started is stopped and dropped on exit."""

    def __init__(self, *, db_name: str = "illu_bench", log=print):
        super().__init__()
        self.db_name = db_name
        self.log = log
        self.work_dir = Path(tempfile.mkdtemp(prefix="illu-bench-"))
        self.callback(shutil.rmtree, self.work_dir, True)
        self.env: dict[str, str] = {}
        self.base_url = ""
        self.description: dict[str, str] = {}
        self.web_process = None
        self._runs = 0

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            # The processes' logs vanish with the work folder: show their ends first.
            for path in sorted(self.work_dir.glob("*.log")):
                tail = path.read_text(errors="replace")[-3000:]
                print(f"--- {path.name} (end) ---\n{tail}", file=sys.stderr)
        return super().__exit__(exc_type, exc, tb)

    # --- services -------------------------------------------------------------------------
    def start_services(self) -> None:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="illuplatform.settings.base",
            ILLU_DEBUG="false",
            LOG_FORMAT="json",
            LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
            SECRET_KEY="bench-" + uuid.uuid4().hex,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            PYTHONUNBUFFERED="1",
            OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
            ILLU_DEFAULT_MAX_CONCURRENT_JOBS=_UNLIMITED,
            ILLU_DEFAULT_IMAGES_PER_DAY=_UNLIMITED,
            ILLU_THROTTLE_JOB_CREATE=f"{_UNLIMITED}/s",
            ILLU_THROTTLE_UPLOADS=f"{_UNLIMITED}/s",
        )
        env.pop("ILLU_TEST_SERVICES_READY", None)
        env["DATABASE_URL"] = self._database()
        env["REDIS_URL"] = self._redis()
        env.update(self._storage())
        self.env = env

    def _database(self) -> str:
        url = os.environ.get("DATABASE_URL", "")
        if not url.startswith(("postgres://", "postgresql://")):
            self.description["database"] = "sqlite (scratch file, IMMEDIATE transactions)"
            # Web and worker write at once; deferred transactions that upgrade to writes fail
            # at once with "database is locked" instead of waiting for the lock.
            return f"sqlite:///{self.work_dir / 'bench.sqlite3'}?transaction_mode=IMMEDIATE"
        import psycopg

        parts = urlsplit(url)
        admin_url = urlunsplit(parts._replace(path="/postgres"))
        name = self.db_name

        def admin(sql: str) -> None:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(sql)

        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin(f'CREATE DATABASE "{name}"')
        self.callback(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.description["database"] = f"postgres {parts.hostname}:{parts.port or 5432}/{name}"
        return urlunsplit(parts._replace(path=f"/{name}"))

    def _redis(self) -> str:
        url = os.environ.get("REDIS_URL", "")
        if url:
            self.description["redis"] = url
            self.callback(self.empty_queues)
            return url
        from illuplatform.embedded import start_redis

        url, process = start_redis(self.work_dir / "redis")
        self.callback(stop_process, process)
        self.description["redis"] = "embedded (unix socket)"
        return url

    def _storage(self) -> dict[str, str]:
        prefix = f"bench/{uuid.uuid4().hex}"
        if os.environ.get("AWS_S3_ENDPOINT_URL"):
            self.description["storage"] = f"s3 {os.environ['AWS_S3_ENDPOINT_URL']}"
            return {"STORAGE_BACKEND": "s3", "AWS_LOCATION": prefix}
        from illuplatform.embedded import S3_TEST_ACCESS_KEY, S3_TEST_SECRET_KEY

        endpoint = self._start_seaweedfs()
        self.description["storage"] = f"s3 embedded SeaweedFS {endpoint}"
        return {
            "STORAGE_BACKEND": "s3",
            "AWS_S3_ENDPOINT_URL": endpoint,
            "AWS_STORAGE_BUCKET_NAME": "media",
            "AWS_ACCESS_KEY_ID": S3_TEST_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_TEST_SECRET_KEY,
            "AWS_LOCATION": prefix,
        }

    def _start_seaweedfs(self) -> str:
        """Like illuplatform.embedded.start_seaweedfs, but every port free (tests may run one)."""
        from illuplatform.embedded import (
            S3_TEST_ACCESS_KEY,
            S3_TEST_SECRET_KEY,
            _bucket_ready,
            _wait_for,
        )

        data = self.work_dir / "seaweedfs"
        data.mkdir(parents=True)
        config = data / "s3.json"
        identity = {"accessKey": S3_TEST_ACCESS_KEY, "secretKey": S3_TEST_SECRET_KEY}
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "bench",
                            "credentials": [identity],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        s3, master, volume, filer, webdav = _seaweed_ports(5)
        weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
        process = subprocess.Popen(
            [
                weed,
                "mini",
                f"-dir={data}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                f"-s3.config={config}",
                f"-s3.port={s3}",
                f"-master.port={master}",
                f"-volume.port={volume}",
                f"-filer.port={filer}",
                f"-webdav.port={webdav}",
                "-bucket=media",
                "-admin.ui=false",
            ],
            stdout=open(data / "weed.log", "ab"),  # noqa: SIM115 - owned by the process
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.callback(stop_process, process)
        endpoint = f"http://127.0.0.1:{s3}"
        _wait_for(lambda: _bucket_ready(endpoint, "media"), process, "SeaweedFS", timeout=90)
        return endpoint

    def empty_queues(self) -> None:
        from redis import Redis
        from rq import Queue

        redis = Redis.from_url(self.env["REDIS_URL"])
        for name in QUEUE_NAMES:
            Queue(name, connection=redis).empty()

    # --- Django ---------------------------------------------------------------------------
    def manage(self, *args: str, extra_env: dict | None = None) -> str:
        """Run ``manage.py <args>`` to the end; returns its output (stdout and stderr)."""
        self._runs += 1
        code, output = run_python(
            ["manage.py", *args],
            env={**self.env, **(extra_env or {})},
            log_path=self.work_dir / f"manage-{self._runs}.log",
            timeout=600,
        )
        if code != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{output[-4000:]}")
        return output

    def prepare(self, users: dict[str, bool], *, demo_models: bool = False) -> dict:
        """Migrate, create ``users`` (name -> staff) with an API token each and, if asked,
        build the demo models, all in one process: each manage.py start imports the whole
        platform, which costs more than the work itself.
        Returns {"tokens": {name: token}, "demo_models": {...}}."""
        result = self.work_dir / "prepared.json"
        script = SETUP_SCRIPT.format(
            users=json.dumps(users), demo_models=demo_models, result=str(result)
        )
        self.manage("shell", "-c", script)
        return json.loads(result.read_text())

    # --- processes --------------------------------------------------------------------------
    def start_web(self, *, extra_env: dict | None = None, workers: int = 1) -> str:
        port = free_port()
        process = self._start(
            [
                "-m",
                "uvicorn",
                "illuplatform.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            extra_env,
            name="web",
        )
        self.web_process = process
        self.base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {process.returncode}; see web.log")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base_url + "/health/", timeout=2).status_code == 200:
                    return self.base_url
            time.sleep(0.2)
        raise RuntimeError("uvicorn did not answer /health/ within 120 s")

    def start_worker(self, *, name: str, extra_env: dict | None = None) -> str:
        """Start `manage.py gpu_worker` and return its ready line."""
        process = self._start(["manage.py", "gpu_worker", "--name", name], extra_env, name=name)
        log_path = self.work_dir / f"{name}.log"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            for line in log_path.read_text(errors="replace").splitlines():
                if line.startswith("gpu_worker ready"):
                    return line.strip()
            if process.poll() is not None:
                raise RuntimeError(f"worker exited with {process.returncode}; see {name}.log")
            time.sleep(0.2)
        raise RuntimeError("the worker was not ready within 300 s")

    def _start(self, argv: list[str], extra_env, *, name: str):
        process = start_python(
            argv, env={**self.env, **(extra_env or {})}, log_path=self.work_dir / f"{name}.log"
        )
        self.callback(stop_process, process)
        return process
