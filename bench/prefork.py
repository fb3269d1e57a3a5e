"""Python processes forked from a process that has already imported the heavy libraries.

A worker started with ``python manage.py gpu_worker`` spends most of its start-up importing
torch, diffusers and transformers (about 7 s of CPU on a 2-core machine, and the test suite and
its benchmark smoke runs start dozens). The prefork server imports them once, without Django
settings, then forks one child per request; the child takes the request's environment,
working directory and log file, and runs the script or module as ``__main__`` exactly as
``python`` would, so Django reads its settings from that environment. The caller gets a
``ForkedProcess`` with the ``subprocess.Popen`` methods it needs (poll, wait, send_signal,
terminate, kill).

The test session starts one server per run (tests/conftest.py; shared by the xdist test
processes) and hands its socket to what it runs in ``PREFORK_SOCKET_ENV``;
``bench.launch.start_python`` uses it when set.
Set ``ILLU_TEST_PREFORK=0`` to start plain subprocesses instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

# Names the socket of a running prefork server; bench.launch forks through it when set.
PREFORK_SOCKET_ENV = "ILLU_PREFORK_SOCKET"

# Django-free modules a worker or the ASGI app imports; a failed import is only a lost
# saving, never an error (the child imports what it needs itself).
PRELOAD = (
    "numpy",
    "PIL.Image",
    "torch",
    "scipy.stats",
    "sympy",
    "transformers",
    "diffusers",
    "peft",
    "accelerate",
    "onnxruntime",
    "cv2",
    "psycopg",
    "boto3",
    "botocore.session",
    "redis",
    "rq",
    "jinja2",
    "matplotlib",
    "httpx",
    "uvicorn",
    "django",
    "django.db.models",
)
DIFFUSERS_CLASSES = (
    "StableDiffusionXLPipeline",
    "StableDiffusionXLImg2ImgPipeline",
    "StableDiffusionXLInpaintPipeline",
    "StableDiffusionXLControlNetPipeline",
    "StableDiffusionXLControlNetUnionPipeline",
    "ControlNetModel",
    "ControlNetUnionModel",
    "AutoencoderKL",
    "UNet2DConditionModel",
)
ENGINE_PACKAGE = "gpu_worker.engine"


def _preload() -> None:
    import importlib
    import pkgutil

    for name in PRELOAD:
        with contextlib.suppress(Exception):  # see PRELOAD
            importlib.import_module(name)
    with contextlib.suppress(Exception):  # see PRELOAD
        import diffusers

        for name in DIFFUSERS_CLASSES:
            getattr(diffusers, name, None)
        engine = importlib.import_module(ENGINE_PACKAGE)
        for module in pkgutil.walk_packages(engine.__path__, ENGINE_PACKAGE + "."):
            importlib.import_module(module.name)


def serve(socket_path: str, owner_pid: int | None = None) -> None:
    """Fork one child per request until the parent (the test session) goes away, or, when
    ``owner_pid`` is given, until that process does (pytest-xdist's controller, for a server
    its test processes share)."""
    _preload()
    parent = os.getppid()

    def owner_alive() -> bool:
        if owner_pid is None:
            return os.getppid() == parent
        try:
            os.kill(owner_pid, 0)
        except ProcessLookupError:
            return False
        return True

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(16)
    print("prefork ready", flush=True)
    children: dict[int, str] = {}  # pid -> where its exit status goes
    while owner_alive():
        _reap(children)
        readable, _, _ = select.select([listener], [], [], 0.05)
        if not readable:
            continue
        connection, _ = listener.accept()
        with connection:
            request = json.loads(_read_all(connection))
            pid = os.fork()
            if pid == 0:
                listener.close()
                connection.close()
                _run_child(request)  # never returns
            children[pid] = request["status_path"]
            connection.sendall(json.dumps({"pid": pid}).encode())


def _reap(children: dict[int, str]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        path = children.pop(pid, None)
        if path:
            temporary = f"{path}.tmp"
            Path(temporary).write_text(str(os.waitstatus_to_exitcode(status)))
            os.replace(temporary, path)


def _read_all(connection: socket.socket) -> bytes:
    chunks = []
    while chunk := connection.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _run_child(request: dict) -> None:
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the server's own handler
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for fd, path in ((1, request["log_path"]), (2, request["stderr_path"])):
            log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(log, fd)
            os.close(log)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        _fresh_random_state()
        code = _run_main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported like an uncaught exception would be
        import traceback

        traceback.print_exc()
    finally:
        _finish_like_the_interpreter()
        os._exit(code)


def _run_main(argv: list[str]) -> int:
    import runpy

    if argv[0] == "-m":
        sys.argv = [argv[1], *argv[2:]]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = list(argv)
        sys.path[0] = str(Path(argv[0]).resolve().parent)
        runpy.run_path(argv[0], run_name="__main__")
    return 0


def _fresh_random_state() -> None:
    """Forked children would otherwise share the server's random sequences."""
    import random

    random.seed()
    if "torch" in sys.modules:
        sys.modules["torch"].seed()


def _finish_like_the_interpreter() -> None:
    """What a normal exit does before os._exit: join non-daemon threads, run atexit."""
    import atexit
    import threading

    try:
        threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


class ForkedProcess:
    """The subprocess.Popen methods the tests use, for a child of the prefork server."""

    def __init__(self, pid: int, status_path: Path, args: list[str]):
        self.pid = pid
        self.args = args
        self.returncode: int | None = None
        self._status_path = status_path

    def poll(self) -> int | None:
        if self.returncode is None and self._status_path.exists():
            self.returncode = int(self._status_path.read_text())
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def spawn(
    socket_path, argv: list[str], *, env: dict[str, str], log_path, cwd, stderr_path=None
) -> ForkedProcess:
    """Start ``python <argv>`` (argv without the interpreter: ["manage.py", ...] or
    ["-m", "module", ...]) through the server at ``socket_path``, its stdout appended to
    ``log_path`` and its stderr to ``stderr_path`` (default: the same file)."""
    # The server writes the child's exit status here; any client may ask, so names are unique.
    status_path = Path(socket_path).parent / f"child-{uuid.uuid4().hex}.status"
    request = {
        "argv": argv,
        "env": env,
        "cwd": str(cwd),
        "log_path": str(log_path),
        "stderr_path": str(stderr_path or log_path),
        "status_path": str(status_path),
    }
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(str(socket_path))
        client.sendall(json.dumps(request).encode())
        client.shutdown(socket.SHUT_WR)
        pid = json.loads(_read_all(client))["pid"]
    return ForkedProcess(pid, status_path, [sys.executable, *argv])


class PreforkServer:
    """A prefork server for a test session; ``spawn`` starts a child through it.

    ``PreforkServer.start(directory, cwd)`` starts one that lives as long as its creator.
    ``PreforkServer.shared(directory, cwd, owner_pid)`` gives every caller the same one,
    started by the first of them and living until ``owner_pid`` exits, so parallel test
    processes import torch and diffusers once between them."""

    def __init__(self, directory: Path, cwd: Path):
        self.directory = directory
        self.cwd = cwd
        self.socket_path = directory / "prefork.sock"
        self.log_path = directory / "prefork.log"
        self.process: subprocess.Popen | None = None  # set where this process started it
        self.owned = False  # stopped by its creator, not left to run until its owner exits

    @classmethod
    def start(cls, directory: Path, cwd: Path, *, owner_pid: int | None = None) -> PreforkServer:
        server = cls(directory, cwd)
        server.owned = owner_pid is None
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        argv = [sys.executable, "-u", "-m", "bench.prefork", str(server.socket_path)]
        with open(server.log_path, "w") as log:
            server.process = subprocess.Popen(
                argv + ([] if owner_pid is None else [str(owner_pid)]),
                cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=not server.owned,  # outlives the process that started it
            )  # fmt: skip
        return server

    @classmethod
    def shared(cls, directory: Path, cwd: Path, owner_pid: int) -> PreforkServer:
        """The server in ``directory``, started now if no caller has started it yet."""
        from filelock import FileLock

        directory.mkdir(parents=True, exist_ok=True)
        with FileLock(str(directory / "start.lock")):
            if (directory / "prefork.log").exists():
                return cls(directory, cwd)
            return cls.start(directory, cwd, owner_pid=owner_pid)

    def wait_ready(self, timeout: float = 120) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                return False
            if "prefork ready" in self.log_path.read_text():
                return True
            time.sleep(0.1)
        return False

    def spawn(self, argv: list[str], *, env: dict[str, str], log_path: Path, cwd=None):
        return spawn(self.socket_path, argv, env=env, log_path=log_path, cwd=cwd or self.cwd)

    def stop(self) -> None:
        """Stop a server this process owns; a shared one ends with its owner."""
        if not self.owned or self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


if __name__ == "__main__":
    # Nothing to save on the way out: skip tearing down torch & co. (about 2 s).
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    serve(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)
