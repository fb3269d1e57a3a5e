"""The processes of `make run` under supervisord (the `supervisor` package): its configuration,
a lock so one folder runs one stack, and an XML-RPC client to ask it what runs.

supervisord, not code of our own, restarts a crashed process (at once when it had been up for
``startsecs``, else with a back-off that grows by a second per failed start), stops everything
in reverse priority order on SIGTERM/SIGINT (web and workers first, Redis last) and writes one
log per process. No Django imports: this runs before settings exist.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import sys
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from illuplatform.embedded import redis_server_command

# Start order (and, reversed, stop order): Redis before its clients, the web server last.
PROGRAMS = (
    "redis", "gpu_worker", "export_worker", "webhook_worker", "webhook_scheduler", "cleanup",
    "web",
)  # fmt: skip
_PRIORITY = {
    "redis": 10,
    "gpu_worker": 20,
    "export_worker": 20,
    "webhook_worker": 20,
    "webhook_scheduler": 20,
    "cleanup": 20,
    "web": 30,
}
# A process that exits before this many seconds counts as a failed start (back-off applies).
_START_SECONDS = {
    "redis": 1, "gpu_worker": 5, "export_worker": 2, "webhook_worker": 2,
    "webhook_scheduler": 2, "cleanup": 2, "web": 2,
}  # fmt: skip
# Failed starts in a row before supervisord gives a process up (FATAL): 1 + 2 + ... s apart.
START_RETRIES = 30


@dataclass(frozen=True)
class StackPaths:
    """Everything a running stack keeps under ``var/``."""

    var_dir: Path

    @property
    def run_dir(self) -> Path:
        return self.var_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "log"

    @property
    def redis_dir(self) -> Path:
        return self.var_dir / "redis"

    @property
    def redis_socket(self) -> Path:
        return self.run_dir / "redis.sock"

    @property
    def supervisor_socket(self) -> Path:
        return self.run_dir / "supervisor.sock"

    @property
    def config_file(self) -> Path:
        return self.run_dir / "supervisord.conf"

    @property
    def lock_file(self) -> Path:
        return self.run_dir / "launcher.lock"

    def log_file(self, program: str) -> Path:
        return self.log_dir / f"{program}.log"

    def make_dirs(self) -> None:
        for folder in (self.run_dir, self.log_dir, self.redis_dir):
            folder.mkdir(parents=True, exist_ok=True)


class AlreadyRunning(Exception):
    """Another launcher holds this folder's lock; ``info`` is what it wrote there."""

    def __init__(self, info: dict):
        super().__init__(info)
        self.info = info


def hold_single_instance_lock(paths: StackPaths, info: dict) -> IO[str]:
    """Lock ``var/run/launcher.lock`` for as long as the returned file stays open (the kernel
    drops the lock when the launcher exits, however it exits), or raise AlreadyRunning."""
    paths.make_dirs()
    handle = open(paths.lock_file, "a+")  # noqa: SIM115 - held for the launcher's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        text = handle.read()
        handle.close()
        try:
            holder = json.loads(text)
        except ValueError:
            holder = {}
        raise AlreadyRunning(holder)
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(info))
    handle.flush()
    return handle


def _quote(args: list[str]) -> str:
    # supervisord expands %(name)s in commands: a literal % must be doubled.
    return shlex.join(args).replace("%", "%%")


def program_commands(paths: StackPaths, *, port: int, embedded_redis: bool) -> dict[str, list]:
    python = sys.executable
    commands = {
        "gpu_worker": [python, "manage.py", "gpu_worker"],
        # Book exports (PDF, ZIP) on the CPU, off the GPU worker.
        "export_worker": [python, "manage.py", "export_worker"],
        # The retry scheduler is a program of its own: as RQ's child process it would outlive
        # a webhook worker killed with SIGKILL and keep its lock.
        "webhook_worker": [python, "manage.py", "webhook_worker", "--scheduler", "none"],
        "webhook_scheduler": [python, "manage.py", "webhook_worker", "--scheduler", "only"],
        # What crashes leave behind (stored objects no row names, upload files of killed web
        # processes), every ILLU_CLEANUP_INTERVAL s: a program of its own rather than the GPU
        # worker's maintenance pass, which runs only between jobs (a long training would
        # postpone it) and must never hold a GPU for storage listings; and it runs on the web
        # server's machine, where the upload folders are.
        "cleanup": [python, "manage.py", "cleanup", "--orphans", "--yes", "--repeat"],
        "web": [
            python, "-m", "uvicorn", "illuplatform.asgi:application",
            "--host", "127.0.0.1", "--port", str(port),
        ],
    }  # fmt: skip
    if embedded_redis:
        commands = {
            "redis": redis_server_command(paths.redis_socket, paths.redis_dir, appendonly=True),
            **commands,
        }
    return commands


def supervisord_config(paths: StackPaths, *, root: Path, port: int, embedded_redis: bool) -> str:
    """supervisord.conf for the stack; every program logs to ``var/log/<program>.log``."""
    lines = [
        "[supervisord]",
        "nodaemon=true",
        f"logfile={paths.log_file('supervisord')}",
        f"pidfile={paths.run_dir / 'supervisord.pid'}",
        f"childlogdir={paths.log_dir}",
        "loglevel=info",
        "",
        "[unix_http_server]",
        f"file={paths.supervisor_socket}",
        "chmod=0700",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{paths.supervisor_socket}",
    ]
    commands = program_commands(paths, port=port, embedded_redis=embedded_redis)
    for name, command in commands.items():
        lines += [
            "",
            f"[program:{name}]",
            f"command={_quote([str(arg) for arg in command])}",
            f"directory={root}",
            f"priority={_PRIORITY[name]}",
            "autostart=true",
            "autorestart=true",
            f"startsecs={_START_SECONDS[name]}",
            f"startretries={START_RETRIES}",
            "stopsignal=TERM",
            # The GPU worker finishes its step loop on TERM (RQ's warm shutdown), then is killed.
            f"stopwaitsecs={15 if name == 'gpu_worker' else 10}",
            # Whole process groups: RQ's scheduler and work horses go with their worker.
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
        ]
        if name != "gpu_worker" or gpu_worker_count() <= 1:
            lines.append(f"stdout_logfile={paths.log_file(name)}")
        else:
            lines += gpu_worker_processes(paths, gpu_worker_count(), cuda_host())
    return "\n".join(lines) + "\n"


def gpu_worker_count() -> int:
    """ILLU_GPU_WORKERS (default 1): supervised GPU worker processes on this host."""
    return max(1, int(os.environ.get("ILLU_GPU_WORKERS", "1") or 1))


def cuda_host() -> bool:
    """Whether this host has NVIDIA GPUs (without importing torch into the launcher)."""
    return Path("/proc/driver/nvidia/gpus").is_dir() and any(
        Path("/proc/driver/nvidia/gpus").iterdir()
    )


def gpu_worker_processes(paths: StackPaths, count: int, on_cuda: bool) -> list[str]:
    """supervisord lines for ``count`` GPU workers: one process each (numprocs), each with its
    own log and, on a CUDA host, pinned to its own device (CUDA_VISIBLE_DEVICES = its number);
    on a CPU host they share it."""
    lines = [
        f"numprocs={count}",
        "process_name=%(program_name)s_%(process_num)d",
        f"stdout_logfile={paths.log_dir / 'gpu_worker_%(process_num)d.log'}",
    ]
    if on_cuda:
        lines.append('environment=CUDA_VISIBLE_DEVICES="%(process_num)d"')
    return lines


def write_config(paths: StackPaths, *, root: Path, port: int, embedded_redis: bool) -> Path:
    paths.make_dirs()
    paths.config_file.write_text(
        supervisord_config(paths, root=root, port=port, embedded_redis=embedded_redis)
    )
    return paths.config_file


def supervisord_command(paths: StackPaths) -> list[str]:
    return [sys.executable, "-m", "supervisor.supervisord", "-c", str(paths.config_file)]


def rpc(paths: StackPaths):
    """supervisord's XML-RPC interface over its unix socket (``.supervisor.getProcessInfo``)."""
    from supervisor.xmlrpc import SupervisorTransport

    transport = SupervisorTransport(None, None, f"unix://{paths.supervisor_socket}")
    # The host part is ignored: the transport always talks to the socket.
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


def process_pids(paths: StackPaths) -> dict[str, int]:
    """program -> pid of each running program (0 when it is not running now)."""
    return {info["name"]: info["pid"] for info in rpc(paths).supervisor.getAllProcessInfo()}
