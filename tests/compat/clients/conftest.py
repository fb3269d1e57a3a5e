"""One live platform for every client test of this package: uvicorn and one long-running GPU
worker (real processes, the test database, Redis and S3), with two users and a LoRA. The
tests drive it only through HTTP, with the ecosystem's own clients, so the database stays as
they leave it until the package ends; then the users (and with them every job, upload and
token they made) are deleted."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from django.conf import settings

from tests.conftest import database_url_for_subprocess
from tests.fixtures.lifecycle import WorkerProcess, wait_for
from tests.fixtures.web_server import start_uvicorn

SIZE = 256  # the platform's smallest text-to-image side


@dataclass
class Caller:
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}


@dataclass
class LivePlatform:
    base_url: str
    port: int
    alice: Caller
    bob: Caller
    lora: str  # a LoRA slug everyone may use
    styles: list[str]

    def get(self, caller: Caller, path: str, **params) -> dict:
        response = httpx.get(
            self.base_url + path, headers=caller.headers, params=params, timeout=30
        )
        assert response.status_code == 200, response.text
        return response.json()

    def jobs(self, caller: Caller, **filters) -> list[dict]:
        return self.get(caller, "/api/v1/jobs/", **filters)["results"]

    def job_asking(self, caller: Caller, prompt: str, **filters) -> dict:
        """The caller's one job with this prompt (waited for: a request that timed out on
        the client's side may still be on its way in)."""

        def found():
            jobs = self.jobs(caller, **filters)
            jobs = [job for job in jobs if job["params"]["prompt"] == prompt]
            assert len(jobs) <= 1, jobs
            return jobs[0] if jobs else None

        return wait_for(found, timeout=30, interval=0.1)

    def job(self, caller: Caller, job_id: str) -> dict:
        return self.get(caller, f"/api/v1/jobs/{job_id}/")

    def wait_until(self, predicate, timeout: float = 120):
        return wait_for(predicate, timeout=timeout, interval=0.05)

    def wait_for_job(self, caller: Caller, job_id: str, predicate, timeout: float = 120) -> dict:
        def ready():
            job = self.job(caller, job_id)
            return job if predicate(job) else None

        return wait_for(ready, timeout=timeout, interval=0.1)


def _start_web(start_python, env: dict[str, str]) -> tuple[object, str, int]:
    return start_uvicorn(start_python, env, "compat-uvicorn")


@contextlib.contextmanager
def test_database(django_db_blocker) -> Iterator[None]:
    """The test database. pytest-django sets it up only when a collected test is marked for
    the database; these tests are not (a test transaction would lock SQLite against the
    server), so run alone they set it up (and tear it down) themselves."""
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        ready = connection.settings_dict["NAME"] == connection.creation._get_test_db_name()
        config = None if ready else setup_databases(0, interactive=False, aliases={"default"})
    try:
        yield
    finally:
        if config is not None:
            with django_db_blocker.unblock():
                teardown_databases(config, verbosity=0)


@pytest.fixture(scope="package")
def live_platform(django_db_setup, django_db_blocker, demo_models, start_python, tmp_path_factory):
    with test_database(django_db_blocker):
        yield from _live_platform(django_db_blocker, demo_models, start_python, tmp_path_factory)


def _live_platform(django_db_blocker, demo_models, start_python, tmp_path_factory):
    from importlib import import_module

    from accounts.models import User
    from accounts.services import api_token_create, user_create
    from catalog.models import Lora, StylePreset
    from generation.work_kind import QUEUE_NAMES
    from illuplatform.embedded import stop_process
    from work.redis_queue import get_queue

    suffix = uuid.uuid4().hex[:8]
    names = {"alice": f"compat-alice-{suffix}", "bob": f"compat-bob-{suffix}",
             "staff": f"compat-staff-{suffix}"}  # fmt: skip
    with django_db_blocker.unblock():
        # A transactional test before this package may have emptied the seeded presets.
        for preset in import_module("generation.migrations.0003_seed_style_presets").PRESETS:
            StylePreset.objects.update_or_create(slug=preset["slug"], defaults=preset)
        callers = {}
        for role, name in names.items():
            user = user_create(username=name, password=f"{name}-pw-1", is_staff=role == "staff")
            callers[role] = Caller(name, api_token_create(user=user, name="compat")[1])
        database_url = database_url_for_subprocess()
    for name in QUEUE_NAMES:
        get_queue(name).empty()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "illuplatform.settings.test",
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "ILLU_MODELS_DIR": str(settings.ILLU_MODELS_DIR),
        "STORAGE_BACKEND": settings.STORAGE_BACKEND,
        "MEDIA_ROOT": str(tmp_path_factory.mktemp("compat-media")),
        "AWS_LOCATION": f"tests/compat-{suffix}",
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": "1",
    }
    web, base_url, port = _start_web(start_python, env)
    worker = WorkerProcess(start_python, env, f"compat-worker-{suffix}")
    try:
        with open(demo_models["lora_a"], "rb") as handle:
            registered = httpx.post(
                f"{base_url}/api/v1/loras/",
                headers=callers["staff"].headers,
                data={"slug": f"hero-{suffix}", "name": "Hero", "type": "character"},
                files={"file": ("hero.safetensors", handle.read())},
                timeout=60,
            )
        assert registered.status_code in (200, 201), registered.text
        worker.wait_ready()
        styles = [item["slug"] for item in httpx.get(
            f"{base_url}/api/v1/styles/", headers=callers["alice"].headers, timeout=30
        ).json()["results"]]  # fmt: skip
        yield LivePlatform(
            base_url=base_url,
            port=port,
            alice=callers["alice"],
            bob=callers["bob"],
            lora=registered.json()["slug"],
            styles=styles,
        )
    finally:
        worker.stop()
        stop_process(web, timeout=10)
        for name in QUEUE_NAMES:
            get_queue(name).empty()
        with django_db_blocker.unblock():
            Lora.objects.filter(slug=f"hero-{suffix}").delete()
            User.objects.filter(username__in=names.values()).delete()
