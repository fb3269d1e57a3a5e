"""OpenAI's error shape for the OpenAI routes: ``{"error": {"message", "type", "param",
"code"}}``. The platform's one exception handler decides status and message; this only
reshapes its body (keeping ``fields``, so every bad field is still named) and tells OpenAI's
clients not to retry what a retry would only repeat (``x-should-retry: false``)."""

from __future__ import annotations

from django.http import JsonResponse

from core.api_errors import api_exception_handler
from core.errors import DomainError

# OpenAI's error types by status; 429 depends on the cause.
_TYPES = {401: "invalid_request_error", 403: "permission_error", 404: "invalid_request_error"}
_CODES = {401: "invalid_api_key"}
_RATE_LIMITED = {
    "throttled": ("requests", "rate_limit_exceeded"),
    "quota_exceeded": ("insufficient_quota", "quota_exceeded"),
}


class ModelNotFound(DomainError):
    status_code = 404
    code = "model_not_found"


def openai_error(status: int, error: dict) -> dict:
    """The platform's ``error`` object (code, message, fields) in OpenAI's shape."""
    code = error.get("code")
    if status == 429:
        kind, code = _RATE_LIMITED.get(code, ("requests", code))
    elif status >= 500:
        kind = "server_error"
    else:
        kind = _TYPES.get(status, "invalid_request_error")
        code = _CODES.get(status, code)
    fields = error.get("fields") or {}
    param = next((name for name in fields if name != "non_field_errors"), None)
    body = {"message": error.get("message", ""), "type": kind, "param": param, "code": code}
    if fields:
        body["fields"] = fields
    return {"error": body}


def openai_exception_handler(exc, context):
    response = api_exception_handler(exc, context)
    if response is None:
        return None
    response.data = openai_error(response.status_code, response.data["error"])
    if response.status_code != 429:
        # OpenAI's clients retry 408, 409 and 5xx by default: each retry would be a new job.
        response["x-should-retry"] = "false"
    return response


def openai_refusal(exc: DomainError) -> JsonResponse:
    """A long wait refused before anything was made (the caller's or the process's cap, a
    database outage at sign-in), in OpenAI's shape, with Retry-After."""
    error = openai_error(exc.status_code, {"code": exc.code, "message": exc.message})
    response = JsonResponse(error, status=exc.status_code)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    if exc.status_code != 429:
        response["x-should-retry"] = "false"
    return response
