"""Staff ("service") tokens may act for another user by passing ``user_id`` (a username)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework.exceptions import PermissionDenied, ValidationError

from core.errors import DomainError

FIELD = "user_id"
_BODY_METHODS = {"POST", "PUT", "PATCH"}


class UnknownActingUser(DomainError):
    # 404 like any object the requester cannot find; `fields` names the parameter.
    status_code = 404
    code = "not_found"


def requested_username(request) -> str | None:
    """``user_id`` from the query string, else from the body of a write; None when absent.
    An empty value counts as absent (an empty form field is no choice)."""
    name = request.query_params.get(FIELD)
    if not name and request.method in _BODY_METHODS and isinstance(request.data, dict):
        name = request.data.get(FIELD)
    if name is not None and not isinstance(name, str):
        raise ValidationError({FIELD: [f"Must be a string, not {type(name).__name__}."]})
    return name or None


def acting_user(request):
    """The user a request acts for: the one named by ``user_id`` when a staff member sends it,
    else the requester. A non-staff requester naming anyone (themselves included) gets 403;
    a name that is no active user is a 404 naming ``user_id``."""
    name = requested_username(request)
    if name is None:
        return request.user
    if not request.user.is_staff:
        raise PermissionDenied(f"Only staff tokens may pass {FIELD!r}.")
    user = get_user_model().objects.filter(username=name, is_active=True).first()
    if user is None:
        message = f"No active user named {str(name)[:150]!r}."
        raise UnknownActingUser(f"{FIELD}: {message}", {FIELD: [message]})
    return user
