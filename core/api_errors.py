"""One exception handler: every API error gets the body of API.md,
``{"error": {"code", "message", "fields"?}}``."""

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.views import defaults
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from core.errors import DomainError
from core.surrogates import surrogate_safe

_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media",
    429: "throttled",
    503: "unavailable",
}


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    """The error body of API.md. Whatever the message and fields echo of the input, the body
    encodes as UTF-8: lone surrogates become U+FFFD (``core.surrogates``)."""
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": surrogate_safe(body)}


def _flatten_fields(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF error detail (nested dicts/lists) -> {"field" or "a.b": [messages]}."""
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors" and not prefix:
                name = "non_field_errors"
            for sub, messages in _flatten_fields(value, name).items():
                fields.setdefault(sub, []).extend(messages)
    elif isinstance(detail, list):
        for item in detail:
            if isinstance(item, (dict, list)):
                for sub, messages in _flatten_fields(item, prefix).items():
                    fields.setdefault(sub, []).extend(messages)
            else:
                fields.setdefault(prefix or "non_field_errors", []).append(str(item))
    else:
        fields.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return fields


def _validation_message(fields: dict[str, list[str]]) -> str:
    parts = [f"{name}: {' '.join(messages)}" for name, messages in fields.items()]
    return "Invalid input. " + "; ".join(parts)


def _django_validation_fields(exc: DjangoValidationError) -> dict[str, list[str]]:
    if not hasattr(exc, "error_dict"):
        return {"non_field_errors": list(exc.messages)}
    return {
        ("non_field_errors" if name == NON_FIELD_ERRORS else name): list(messages)
        for name, messages in exc.message_dict.items()
    }


def api_exception_handler(exc, context):
    if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
        # Redis is transport, not the source of truth: what needs it now is refused, clearly.
        return Response(
            error_body("unavailable", "The job queue (Redis) is not answering; try again shortly."),
            503,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, OperationalError | InterfaceError):
        # The database did not answer (down, or no pooled connection free in time): the
        # request may succeed later, so 503 with Retry-After, never a 500 (or a 401).
        return Response(
            error_body("unavailable", "The database is not answering; try again shortly."),
            503,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, DataError):
        # Values the database cannot store (NUL characters in PostgreSQL text and jsonb).
        return Response(
            error_body("invalid", "The request contains characters that cannot be stored."), 400
        )
    if isinstance(exc, DomainError):
        body = error_body(exc.code, exc.message, exc.fields)
        response = Response(body, status=exc.status_code)
        if getattr(exc, "retry_after", None) is not None:
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("too_large", str(exc) or "The request body is too large."), 413)
    if isinstance(exc, DjangoValidationError):
        # model.full_clean() inside a service: the same 400 as a serializer error.
        fields = _django_validation_fields(exc)
        return Response(error_body("invalid", _validation_message(fields), fields), 400)
    if isinstance(exc, IntegrityError):
        # A concurrent request won a uniqueness race that validation had checked.
        message = "The request conflicts with the current state of the resource; retry it."
        return Response(error_body("conflict", message), 409)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten_fields(exc.detail)
        response.data = error_body("invalid", _validation_message(fields), fields)
        return response
    code = _CODES.get(response.status_code, "error")
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        code = "not_authenticated"
        response.status_code = status.HTTP_401_UNAUTHORIZED
    detail = getattr(exc, "detail", "")
    message = str(detail) if not isinstance(detail, dict | list) else str(exc)
    response.data = error_body(code, message)
    return response


# Django-level handlers (urls.py): unknown URLs and crashes under /api/ answer with the JSON
# error body, like every DRF view; other paths keep Django's pages.
def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def json_bad_request(request, exception=None):
    if not _is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(error_body("too_large", str(exception)), status=413)
    return JsonResponse(error_body("invalid", "The request could not be read."), status=400)


def json_not_found(request, exception=None):
    if not _is_api(request):
        return defaults.page_not_found(request, exception)
    message = f"No API endpoint at {request.path}."
    return JsonResponse(error_body("not_found", message), status=404)


def json_server_error(request):
    if not _is_api(request):
        return defaults.server_error(request)
    message = "An internal error occurred; it has been logged."
    return JsonResponse(error_body("server_error", message), status=500)
