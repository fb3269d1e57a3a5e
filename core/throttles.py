"""Request throttles (DRF's): per-user bursts of job creation and uploads. Each reads its rate
from a Django setting on every request (DRF binds THROTTLE_RATES once at import, so a changed
setting would otherwise never apply). Counters live in Django's default cache.

One mechanism for every path, with the same counters: API views list them in
``throttle_classes`` (a 429 ``throttled`` with ``Retry-After``, from the one exception
handler); pages wrap their views in ``throttled_page`` (a page with the message, status 429);
anything else (routes with an error shape of their own) calls ``throttle_check``, which raises
``RequestThrottled`` with the seconds to wait. So the API and the pages together stay within
each limit."""

from __future__ import annotations

import math
from functools import wraps

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from .errors import DomainError
from .middleware import refused_page


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
    counts = "new jobs"


class UploadThrottle(PerUserPostThrottle):
    scope = "uploads"
    rate_setting = "ILLU_THROTTLE_UPLOADS"
    counts = "uploads"


class RequestThrottled(DomainError):
    """Over a throttle's rate; ``retry_after``: seconds until a request can pass."""

    status_code = 429
    code = "throttled"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def throttle_check(request, *throttle_classes: type[PerUserPostThrottle]) -> None:
    """Count ``request`` (a Django or DRF request; POSTs only) against each throttle, as a DRF
    view with these ``throttle_classes`` would, on the same counters; raise RequestThrottled
    when one is over its rate."""
    for throttle_class in throttle_classes:
        throttle = throttle_class()
        if not throttle.allow_request(request, None):
            wait = retry_after_seconds(throttle)
            raise RequestThrottled(
                f"Too many {throttle.counts}: at most {throttle.get_rate()}. "
                f"Try again in {wait} seconds.",
                retry_after=wait,
            )


def throttled_page(*throttle_classes: type[PerUserPostThrottle], when=None):
    """Decorate a page view: a POST (for which ``when(request)`` holds, if given) is counted
    against the throttles; over one, the page says so with status 429 and Retry-After and the
    view does nothing."""

    def decorate(view):
        @wraps(view)
        def throttled(request, *args, **kwargs):
            if request.method == "POST" and (when is None or when(request)):
                try:
                    throttle_check(request, *throttle_classes)
                except RequestThrottled as exc:
                    response = refused_page(
                        request, status=429, heading="Too many requests", message=exc.message
                    )
                    response["Retry-After"] = str(exc.retry_after)
                    return response
            return view(request, *args, **kwargs)

        return throttled

    return decorate
