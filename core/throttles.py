"""Request throttles (DRF's): per-user bursts of job creation and uploads. Each reads its rate
from a Django setting on every request (DRF binds THROTTLE_RATES once at import, so a changed
setting would otherwise never apply). A throttled request is a 429 ``throttled`` with
``Retry-After``, from the one exception handler. Counters live in Django's default cache."""

from __future__ import annotations

import math

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


def client_ip(request) -> str:
    """The caller's address: REMOTE_ADDR, or the X-Forwarded-For entry that the
    ILLU_NUM_PROXIES trusted proxies in front added (never a client-chosen one)."""
    return SimpleRateThrottle.get_ident(None, request)


def retry_after_seconds(throttle: SimpleRateThrottle) -> int:
    wait = throttle.wait()
    return max(1, math.ceil(wait if wait is not None else throttle.duration))


class SettingRateThrottle(SimpleRateThrottle):
    """A SimpleRateThrottle whose rate ("N/s|m|h|d") is the setting ``rate_setting``."""

    rate_setting: str

    def get_rate(self) -> str:
        return getattr(settings, self.rate_setting)


class PerUserPostThrottle(SettingRateThrottle):
    """Counts the POSTs of each user (each client address when anonymous); reads are free."""

    def allow_request(self, request, view) -> bool:
        if request.method != "POST":
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        user = request.user
        ident = f"user-{user.pk}" if user and user.is_authenticated else client_ip(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class JobCreateThrottle(PerUserPostThrottle):
    scope = "job_create"
    rate_setting = "ILLU_THROTTLE_JOB_CREATE"


class UploadThrottle(PerUserPostThrottle):
    scope = "uploads"
    rate_setting = "ILLU_THROTTLE_UPLOADS"
