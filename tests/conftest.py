"""Shared fixtures. Redis and S3 are real servers (see illuplatform/settings/test.py); the
database is the one pytest-django creates (Postgres in CI, SQLite on a bare machine)."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.services import api_token_create, user_create
from generation.work_kind import QUEUE_NAMES
from work.redis_queue import get_queue

# Fixtures shared across apps and layers; tests live in tests/<app>/<layer>/.
pytest_plugins = [
    "tests.fixtures.admin",
    "tests.fixtures.api",
    "tests.fixtures.engine",
    "tests.fixtures.lifecycle",
    "tests.fixtures.ops",
    "tests.fixtures.pages",
]

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path):
    """Each test stores under its own folder (local) or key prefix (S3), so a test sees only
    the files it wrote; worker processes get the same through worker_env."""
    from illuplatform.settings.base import build_storages

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.AWS_LOCATION = f"tests/{uuid.uuid4().hex}"
    settings.STORAGES = build_storages(settings.STORAGE_BACKEND, location=settings.AWS_LOCATION)


@pytest.fixture(autouse=True)
def _initial_style_presets(request):
    """Transactional tests truncate every table, the rows migrations add included; put the
    style presets of migration generation 0003 back for each test that uses the database."""
    marker = request.node.get_closest_marker("django_db")
    wants_db = marker is not None or {"db", "transactional_db"} & set(request.fixturenames)
    if not wants_db:
        return
    transactional = "transactional_db" in request.fixturenames or (
        marker is not None and marker.kwargs.get("transaction", False)
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    from importlib import import_module

    from catalog.models import StylePreset

    initial = import_module("generation.migrations.0003_seed_style_presets")
    for preset in initial.PRESETS:
        StylePreset.objects.update_or_create(slug=preset["slug"], defaults=preset)


@pytest.fixture
def make_user(db):
    counter = iter(range(1_000_000))

    def make(username: str | None = None, *, staff: bool = False):
        name = username or f"user{next(counter)}"
        return user_create(username=name, password=f"{name}-password-1", is_staff=staff)

    return make


@pytest.fixture
def user(make_user):
    return make_user("alice")


def client_for(user) -> APIClient:
    _, raw_key = api_token_create(user=user, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw_key}")
    return client


@pytest.fixture
def api(user) -> APIClient:
    return client_for(user)


@pytest.fixture
def empty_queues():
    from training.work_kind import TRAINING_QUEUE

    for name in (*QUEUE_NAMES, TRAINING_QUEUE):
        get_queue(name).empty()
    yield
    for name in (*QUEUE_NAMES, TRAINING_QUEUE):
        get_queue(name).empty()


def database_url_for_subprocess() -> str:
    """The URL of the database the tests are using right now (the test database)."""
    from django.db import connection

    params = connection.settings_dict
    if params["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{params['NAME']}"
    auth = params["USER"] or ""
    if params.get("PASSWORD"):
        auth += f":{params['PASSWORD']}"
    host = f"{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}"
    return f"postgres://{auth}@{host}/{params['NAME']}"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, and before it is dropped at the session's end, every
    other session still on it ended: a connection left checked out of the pool by a thread, or
    held by a process a test started, would otherwise make PostgreSQL's DROP DATABASE wait
    5 s and then leave the database behind."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(scope="session")
def demo_models() -> dict[str, str]:
    """Built once per session, before any worker starts: workers then only load them."""
    from gpu_worker.demo_models import ensure_demo_models

    return ensure_demo_models()


@pytest.fixture
def worker_env(demo_models) -> dict[str, str]:
    return worker_environment()


def worker_environment() -> dict[str, str]:
    """The environment of a worker process started by a test: this test run's database,
    Redis, models and storage."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="illuplatform.settings.test",
        DATABASE_URL=database_url_for_subprocess(),
        REDIS_URL=settings.REDIS_URL,
        ILLU_MODELS_DIR=str(settings.ILLU_MODELS_DIR),
        STORAGE_BACKEND=settings.STORAGE_BACKEND,
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        AWS_LOCATION=settings.AWS_LOCATION,
        PYTHONUNBUFFERED="1",
        OMP_NUM_THREADS="1",
    )
    return env


@pytest.fixture(scope="session")
def prefork(tmp_path_factory):
    """The prefork server (see bench/prefork.py): one for all pytest-xdist test processes of
    a run (it ends with xdist's controller), else one for this session; None: plain
    subprocesses."""
    from bench.prefork import PreforkServer

    if os.environ.get("ILLU_TEST_PREFORK", "1") == "0":
        yield None
        return
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # The test processes' temporary folders share this parent; their parent is the
        # controller.
        shared = tmp_path_factory.getbasetemp().parent / "prefork"
        server = PreforkServer.shared(shared, REPO_ROOT, owner_pid=os.getppid())
    else:
        server = PreforkServer.start(tmp_path_factory.mktemp("prefork"), REPO_ROOT)
    ready = server.wait_ready()
    yield server if ready else None
    server.stop()


@pytest.fixture(scope="session")
def prefork_env(prefork) -> dict[str, str]:
    """Environment entries that let a started process fork its own Python children through
    the prefork server too (the benchmarks' workers and web servers)."""
    from bench.prefork import PREFORK_SOCKET_ENV

    return {} if prefork is None else {PREFORK_SOCKET_ENV: str(prefork.socket_path)}


@pytest.fixture(scope="session")
def start_python(prefork_env):
    """Start ``python <argv>`` in the repository root with ``env``, its stdout (and its
    stderr, unless ``stderr_path`` is given) appended to ``log_path``; returns a Popen-like
    process (forked from the prefork server unless ILLU_TEST_PREFORK=0)."""
    from bench.launch import start_python as start

    def start_in_repository(
        argv: list[str], *, env: dict[str, str], log_path: Path, stderr_path: Path | None = None
    ):
        return start(argv, env={**env, **prefork_env}, log_path=log_path, stderr_path=stderr_path)

    return start_in_repository


@pytest.fixture
def run_worker_burst(worker_env, prefork_env, tmp_path):
    """Run a real `manage.py gpu_worker --burst` process until the queues are empty; its
    output (stdout and stderr together) is the result's ``stdout``."""
    from bench.launch import run_python

    runs = iter(range(1_000_000))

    def run(timeout: float = 240) -> subprocess.CompletedProcess:
        argv = ["manage.py", "gpu_worker", "--burst"]
        code, output = run_python(
            argv,
            env={**worker_env, **prefork_env},
            log_path=tmp_path / f"burst-worker-{next(runs)}.log",
            timeout=timeout,
        )
        assert code == 0, output
        return subprocess.CompletedProcess(argv, code, stdout=output, stderr="")

    return run


@pytest.fixture
def run_export_burst(worker_env, prefork_env, tmp_path):
    """Run a real `manage.py export_worker --burst` process until its queue is empty; its
    output (stdout and stderr together)."""
    from bench.launch import run_python

    def run() -> str:
        code, output = run_python(
            ["manage.py", "export_worker", "--burst"],
            env={**worker_env, **prefork_env},
            log_path=tmp_path / "export-worker.log",
            timeout=240,
        )
        assert code == 0, output
        return output

    return run


@pytest.fixture
def asgi_server(worker_env, start_python):
    """The ASGI app under uvicorn on a free loopback port, on the test database."""
    from illuplatform.embedded import stop_process
    from tests.fixtures.web_server import start_uvicorn

    process, base, _ = start_uvicorn(start_python, worker_env)
    yield base
    # uvicorn's graceful shutdown waits for open streams (SSE); past the timeout it is killed.
    stop_process(process, timeout=10)


@pytest.fixture
def redis_down(settings, tmp_path):
    """A Redis outage injected on purpose: the platform points at a socket nobody listens on.
    Yields a function that brings Redis back (also done at teardown, before later fixtures
    such as empty_queues clean up)."""
    working = settings.REDIS_URL
    settings.REDIS_URL = f"unix://{tmp_path / 'redis-gone.sock'}"

    def back() -> None:
        settings.REDIS_URL = working

    yield back
    back()


# Modules whose tests share one expensive module-scoped stack and run in file order.
RUN_FIRST = ("tests/platform/test_faults.py",)


# Run only when named in -m (make test-drill, make test-bench): the 20-job fault drill and the
# benchmarks' smoke runs are scenarios of minutes, not the quick loop's checks.
ASKED_BY_NAME = ("drill", "bench_smoke")


def pytest_collection_modifyitems(config, items):
    """Tests marked in ASKED_BY_NAME leave unless -m names them. The shared supervised stack's
    module first: pytest-xdist's worksteal hands out tests from the end of a process's queue,
    so a module at the front stays on one process and starts its stack once."""
    asked = config.getoption("markexpr") or ""
    left_out = [m for m in ASKED_BY_NAME if m not in asked]
    deselected = [item for item in items if any(m in item.keywords for m in left_out)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]
    items.sort(key=lambda item: not item.nodeid.startswith(RUN_FIRST))
