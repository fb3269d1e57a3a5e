"""Acting for another user, decided here once. Staff ("service") tokens may act for another
user by passing ``user_id`` (a username) in the query string or the body of a write. Every
view, page and serializer that reads ``user_id`` goes through this module: the API views
resolve the user with ``acting_user``, request serializers declare the field with
``acting_user_field`` and leave it out of their data with ``without_acting_field``, and the
event streams (plain async views) call ``acting_user`` with the user they authenticated.

Who may act for whom is ``_check_may_act``, the one place to tighten the rule."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import QueryDict
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError

from core.errors import DomainError

FIELD = "user_id"
_BODY_METHODS = {"POST", "PUT", "PATCH"}


class UnknownActingUser(DomainError):
    # 404 like any object the requester cannot find; `fields` names the parameter.
    status_code = 404
    code = "not_found"


def acting_user_field() -> serializers.CharField:
    """The ``user_id`` field of a request body (its schema); ``acting_user`` reads it."""
    return serializers.CharField(
        required=False, allow_blank=True, help_text="Staff only: act for this username."
    )


def without_acting_field(data):
    """A copy of a request body without ``user_id``, for a serializer of what the request
    asks (``user_id`` names whom for, no parameter). A form body stays a QueryDict, as only
    JSON bodies are held to JSON types; built anew rather than deep-copied, which uploaded
    files do not survive."""
    if not isinstance(data, QueryDict):
        return {key: value for key, value in data.items() if key != FIELD}
    form = QueryDict(mutable=True)
    for key, values in data.lists():
        if key != FIELD:
            form.setlist(key, values)
    return form


def requested_username(request) -> str | None:
    """``user_id`` from the query string, else from the body of a write; None when absent.
    An empty value counts as absent (an empty form field is no choice). ``request`` is a DRF
    request or a plain Django one (the async event streams)."""
    name = request.GET.get(FIELD)
    if not name and request.method in _BODY_METHODS:
        data = getattr(request, "data", None)  # a plain Django request has no parsed body
        if isinstance(data, dict):
            name = data.get(FIELD)
    if name is not None and not isinstance(name, str):
        raise ValidationError({FIELD: [f"Must be a string, not {type(name).__name__}."]})
    return name or None


def acting_user(request, *, requester=None):
    """The user a request acts for: the one named by ``user_id`` when the requester may act
    for them, else the requester (``requester``, by default ``request.user``). A requester
    who may not act for others naming anyone (themselves included) gets 403; a name that is
    no active user is a 404 naming ``user_id``."""
    requester = requester if requester is not None else request.user
    name = requested_username(request)
    if name is None:
        return requester
    _check_may_act(requester)
    user = get_user_model().objects.filter(username=name, is_active=True).first()
    if user is None:
        message = f"No active user named {str(name)[:150]!r}."
        raise UnknownActingUser(f"{FIELD}: {message}", {FIELD: [message]})
    return user


def _check_may_act(requester) -> None:
    """The rule: staff may act for any user; anyone else passing ``user_id`` is refused."""
    if not requester.is_staff:
        raise PermissionDenied(f"Only staff tokens may pass {FIELD!r}.")
