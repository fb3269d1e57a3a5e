"""Tests: real Redis and S3. When none is configured, embedded ones are started on loopback."""

import os
from pathlib import Path

from illuplatform.embedded import ensure_test_services, redis_url_for_test_worker

# Must run before base reads the environment: it fills REDIS_URL and the S3 settings.
ensure_test_services()
# pytest-xdist: each test process gets a Redis database of its own (queues, progress and
# heartbeats never cross); worker processes a test starts inherit the already-split URL.
if os.environ.get("PYTEST_XDIST_WORKER") and not os.environ.get("ILLU_TEST_REDIS_SPLIT"):
    os.environ["REDIS_URL"] = redis_url_for_test_worker(
        os.environ["REDIS_URL"], os.environ["PYTEST_XDIST_WORKER"]
    )
    os.environ["ILLU_TEST_REDIS_SPLIT"] = "1"

from .base import *  # noqa: E402, F403
from .base import DATABASES, VAR_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DEBUG = False
# The webhook tests deliver to a receiver on loopback; tests of the refusal turn this off.
ILLU_WEBHOOK_ALLOW_LOOPBACK = True
# Loose enough that no test is throttled by accident (counters live for the whole session);
# the throttling tests tighten them with override_settings.
ILLU_LOGIN_MAX_FAILURES_PER_USERNAME = 100_000
ILLU_LOGIN_MAX_FAILURES_PER_IP = 100_000
ILLU_THROTTLE_JOB_CREATE = "100000/s"
ILLU_THROTTLE_UPLOADS = "100000/s"

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not :memory:, so worker processes started by tests share the database.
    # One file per test session (workers it starts get its path), so sessions never collide.
    default_db = VAR_DIR / "test" / f"test-db-{os.getpid()}.sqlite3"
    test_db = Path(os.environ.get("ILLU_TEST_SQLITE", default_db))
    test_db.parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["TEST"] = {"NAME": str(test_db)}
ILLU_THROTTLE_SHARE_PAGE = "100000/s"
