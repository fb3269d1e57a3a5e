"""GET /metrics: Prometheus text, for the metrics token or staff only."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST
from rest_framework.exceptions import AuthenticationFailed

from accounts.authentication import HashedTokenAuthentication
from core.api_errors import error_body

from .metrics import render_metrics


@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    denied = _deny(request)
    if denied is not None:
        return denied
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)


def _deny(request: HttpRequest) -> JsonResponse | None:
    """None when allowed: ``Bearer <ILLU_METRICS_TOKEN>``, a staff ``Token``, or staff session."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        expected = settings.ILLU_METRICS_TOKEN
        if expected and hmac.compare_digest(credential.strip().encode(), expected.encode()):
            return None
        return _unauthorized("Invalid metrics token.")
    if scheme == "token":
        try:
            user, _ = HashedTokenAuthentication().authenticate(request)
        except AuthenticationFailed as exc:
            return _unauthorized(str(exc.detail))
    elif request.user.is_authenticated:
        user = request.user
    else:
        return _unauthorized("Send 'Authorization: Bearer <metrics token>' or a staff API token.")
    if not user.is_staff:
        return JsonResponse(
            error_body("forbidden", "Metrics are for the metrics token and staff only."),
            status=403,
        )
    return None


def _unauthorized(message: str) -> JsonResponse:
    response = JsonResponse(error_body("not_authenticated", message), status=401)
    response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response
