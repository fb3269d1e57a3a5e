"""Schemathesis on the compatibility routes that take input, in-process, like the platform's
fuzzing (tests/platform/api/test_fuzz.py): no answer outside the schema, no invalid input
accepted, no 5xx. The wait is 0 s, so a valid generation request answers its documented 504
at once (its jobs stay queued): for those routes a 504 is no server error and acceptance is
not checked; every other check runs."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from accounts.services import api_token_create
from tests.platform.api.test_fuzz import wsgi_app  # noqa: F401 - the fixture

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

ROUTES = r"^/(v1/(images/(generations|edits|variations)|models)|sdapi/v1/(txt2img|img2img|options|progress))$"  # noqa: E501
ANSWERED_AFTER_THE_WAIT = re.compile(
    r"^POST /(v1/images/(generations|edits|variations)|sdapi/v1/(txt2img|img2img))$"
)
# Per operation and mode: the generation routes decode images and create jobs. Every route
# still gets valid input, and invalid input wherever its schema allows any.
EXAMPLES = 3
# The one route without parameters or body: no invalid input to generate.
NO_INVALID_INPUT = {"GET /v1/models"}
# A model name that matches the schema still has to exist.
SEMANTIC_REFUSALS = re.compile(r"^POST /sdapi/v1/options$")


def no_server_error_but_the_timeout(ctx, response, case) -> bool:
    assert response.status_code < 500 or response.status_code == 504, (
        f"{response.status_code}: {response.text[:500]}"
    )
    return True


def run(operation, mode, headers, calls: list) -> str | None:
    """Fuzz one operation in one mode; each case run is appended to ``calls``."""
    excluded, added = [], []
    if ANSWERED_AFTER_THE_WAIT.match(operation.label):
        excluded, added = (
            [positive_data_acceptance, not_a_server_error],
            [no_server_error_but_the_timeout],
        )
    elif SEMANTIC_REFUSALS.match(operation.label):
        excluded = [positive_data_acceptance]

    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        calls.append(case)
        case.call_and_validate(headers=headers, excluded_checks=excluded, additional_checks=added)

    try:
        check()
    except Unsatisfiable:
        return None
    except (Exception, BaseExceptionGroup) as exc:
        return f"{operation.label} [{mode.value}]: {exc}"[:3000]
    return None


def test_schemathesis_on_the_compatibility_routes(
    wsgi_app,  # noqa: F811
    alice,
    empty_queues,
    settings,
):
    settings.ILLU_COMPAT_WAIT_SECONDS = 0
    settings.ILLU_DEFAULT_MAX_CONCURRENT_JOBS = 1000
    headers = {"Authorization": f"Bearer {api_token_create(user=alice, name='fuzz')[1]}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app)
    failures, operations = [], 0
    for result in schema.include(path_regex=ROUTES).get_all_operations():
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            calls = []
            failure = run(result.ok(), mode, headers, calls)
            if failure:
                failures.append(failure)
            label = result.ok().label
            if not calls and (mode is GenerationMode.POSITIVE or label not in NO_INVALID_INPUT):
                failures.append(f"{label} [{mode.value}]: no case was generated")
    assert operations == 9
    assert not failures, "\n\n".join(failures)
