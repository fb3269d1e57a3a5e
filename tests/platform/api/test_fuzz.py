"""Schemathesis against /api/schema/, in-process over WSGI: positive and negative examples for
every operation of these endpoints, all checks. No 5xx, no response outside the schema, no
invalid input accepted. Bounded and deterministic (derandomized, 5 examples per mode); every
operation is called with valid input, and with invalid input wherever its schema allows any."""

from __future__ import annotations

import re

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from accounts.services import api_token_create

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

# This endpoints; the job endpoints join when their views are annotated.
OWN_PATHS = r"^/(api/v1/(auth|avatars|characters|uploads|images|loras|styles)/|health/)"
# Valid-by-schema input these operations still refuse for reasons no schema can state: file
# contents (random bytes are not images or safetensors), existing state (unique names,
# registered LoRA slugs), and credentials. Every other check still runs on them.
SEMANTIC_REFUSALS = re.compile(
    r"^(POST /api/v1/(uploads|avatars|loras|characters|auth/token)/"
    r"|POST /api/v1/characters/\{character_id\}/references/"
    r"|PATCH /api/v1/characters/\{character_id\}/)$"
)
EXAMPLES = 5
# Operations whose schema leaves no invalid input to generate (no parameters, no body, or a
# path parameter that takes any string): every other one must get invalid cases too.
NO_INVALID_INPUT = {"GET /api/v1/styles/{slug}/", "GET /health/detailed/", "GET /health/ready/"}


@pytest.fixture
def wsgi_app():
    # Django closes "old" connections after each request; inside the test's transaction that
    # would be the test's own connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def run_operation(operation, mode, headers, calls: list) -> str | None:
    """Fuzz one operation in one mode; each case run is appended to ``calls``."""
    excluded = [positive_data_acceptance] if SEMANTIC_REFUSALS.match(operation.label) else []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report the first failure
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        calls.append(case)
        case.call_and_validate(headers=headers, excluded_checks=excluded)

    try:
        check()
    except Unsatisfiable:
        return None  # nothing in this mode can be generated (e.g. no negative of "any string")
    except (Exception, BaseExceptionGroup) as exc:  # collected: one run reports every operation
        return f"{operation.label} [{mode.value}]: {exc}"[:3000]
    return None


def fuzz(wsgi_app, user, path_regex: str) -> tuple[int, list[str]]:
    _, raw_key = api_token_create(user=user, name="fuzz")
    headers = {"Authorization": f"Token {raw_key}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
    failures, operations = [], 0
    for result in schema.include(path_regex=path_regex).get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            calls = []
            failure = run_operation(operation, mode, headers, calls)
            if failure:
                failures.append(failure)
            if not calls and (
                mode is GenerationMode.POSITIVE or operation.label not in NO_INVALID_INPUT
            ):
                failures.append(f"{operation.label} [{mode.value}]: no case was generated")
    return operations, failures


def test_schemathesis_finds_nothing(wsgi_app, alice_things, alice, live_worker):
    operations, failures = fuzz(wsgi_app, alice, OWN_PATHS)
    assert operations >= 25
    assert not failures, "\n\n".join(failures)


def test_schemathesis_as_staff_on_the_staff_endpoints(
    wsgi_app, alice_things, staff, live_worker, empty_queues
):
    # Staff reach what users get 403 for: the health views, LoRA registration, user_id.
    operations, failures = fuzz(wsgi_app, staff, r"^/(health/|api/v1/(loras|avatars)/)")
    assert operations >= 8
    assert not failures, "\n\n".join(failures)


# Valid-by-schema job requests still name avatars, characters, uploads or LoRAs that must exist
# and belong to the caller, and the AutoBio endpoints need a primary avatar.
JOB_SEMANTIC_REFUSALS = re.compile(r"^POST /(api/v1/jobs/|v1/images/(memory|subject))$")


def test_schemathesis_on_the_job_endpoints(wsgi_app, alice_things, alice, empty_queues, settings):
    settings.ILLU_DEFAULT_MAX_CONCURRENT_JOBS = 1000
    global SEMANTIC_REFUSALS
    previous, SEMANTIC_REFUSALS = SEMANTIC_REFUSALS, JOB_SEMANTIC_REFUSALS
    try:
        # The OpenAI routes under /v1/images/ wait for their jobs: tests/compat fuzzes them.
        operations, failures = fuzz(wsgi_app, alice, r"^/(api/v1/jobs/|v1/images/(memory|subject))")
    finally:
        SEMANTIC_REFUSALS = previous
    assert operations >= 9
    assert not failures, "\n\n".join(failures)


# A valid-by-schema training names a character or uploads that must exist and be the
# caller's; quotas may refuse it too.
TRAINING_SEMANTIC_REFUSALS = re.compile(r"^POST /api/v1/trainings/$")


def test_schemathesis_on_the_training_endpoints(
    wsgi_app, alice_things, alice, empty_queues, settings
):
    settings.ILLU_TRAINING_MAX_CONCURRENT = 1000
    settings.ILLU_TRAINING_MONTHLY_LIMIT = 1000
    global SEMANTIC_REFUSALS
    previous, SEMANTIC_REFUSALS = SEMANTIC_REFUSALS, TRAINING_SEMANTIC_REFUSALS
    try:
        operations, failures = fuzz(wsgi_app, alice, r"^/api/v1/trainings/")
    finally:
        SEMANTIC_REFUSALS = previous
    assert operations >= 4
    assert not failures, "\n\n".join(failures)
