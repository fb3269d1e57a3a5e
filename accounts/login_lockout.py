"""Lock-out of password guessing on the token exchange and the sign-in page. Failed attempts
are counted per username and per client address over ILLU_LOGIN_LOCKOUT_SECONDS; at
ILLU_LOGIN_MAX_FAILURES_PER_USERNAME (or ..._PER_IP) every further attempt, the right password
included, is refused with 429 until the oldest failure is that old. Built on DRF's
SimpleRateThrottle (its cache and sliding-window history), counting failures rather than
requests, so people who sign in often are never locked out. A success clears the username's
failures, never the address's (an attacker's own account must not reset its counter)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from core.errors import DomainError
from core.throttles import retry_after_seconds


class LoginLockedOut(DomainError):
    status_code = 429
    code = "throttled"

    def __init__(self, retry_after: int):
        super().__init__(
            f"Too many failed sign-ins; try again in {retry_after} seconds.",
        )
        self.retry_after = retry_after


class _FailureCounter(SimpleRateThrottle):
    """The failures of one username or one address, in DRF's throttle history format."""

    cache_format = "login-failures:%(scope)s:%(ident)s"

    def __init__(self, scope: str, ident: str, limit_setting: str):
        self.scope = scope
        self.ident = hashlib.sha256(ident.encode()).hexdigest()
        self.limit_setting = limit_setting
        super().__init__()

    def get_rate(self) -> str:
        return "per-lockout-window"  # parse_rate reads the settings instead

    def parse_rate(self, rate) -> tuple[int, int]:
        return getattr(settings, self.limit_setting), settings.ILLU_LOGIN_LOCKOUT_SECONDS

    def get_cache_key(self, request=None, view=None) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.ident}

    def _load(self) -> None:
        self.key = self.get_cache_key()
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()

    def locked(self) -> bool:
        self._load()
        return len(self.history) >= self.num_requests

    def add_failure(self) -> None:
        self._load()
        self.throttle_success()  # DRF's "record one more" step

    def clear(self) -> None:
        self.cache.delete(self.get_cache_key())


def _counters(username: str, client: str) -> list[_FailureCounter]:
    return [
        _FailureCounter("username", username.casefold(), "ILLU_LOGIN_MAX_FAILURES_PER_USERNAME"),
        _FailureCounter("ip", client or "unknown", "ILLU_LOGIN_MAX_FAILURES_PER_IP"),
    ]


def login_lockout_check(*, username: str, client: str) -> None:
    """Raise LoginLockedOut (with Retry-After seconds) when either counter is at its limit."""
    locked = [counter for counter in _counters(username, client) if counter.locked()]
    if locked:
        raise LoginLockedOut(max(retry_after_seconds(counter) for counter in locked))


def login_failure_record(*, username: str, client: str) -> None:
    for counter in _counters(username, client):
        counter.add_failure()


def login_success_record(*, username: str, client: str) -> None:
    _counters(username, client)[0].clear()
