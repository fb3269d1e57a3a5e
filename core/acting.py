"""Acting for another user, decided here once. Staff ("service") tokens that hold the
permission ``accounts.act_for_user`` may act for another user by passing ``user_id`` (a
username) in the query string or the body of a write. Every view, page and serializer that
reads ``user_id`` goes through this module: the API views resolve the user with
``acting_user``, request serializers declare the field with ``acting_user_field`` and leave it
out of their data with ``without_acting_field``, and the event streams (plain async views)
call ``acting_user`` with the user they authenticated.

Who may act for whom is ``_check_may_act`` and ``_check_may_act_for``, the one place to
tighten the rule: staff with the permission (superusers hold every permission), and a
superuser only by a superuser. Every time someone acts for another user an audit record is
written (who, for whom, method and path, when; the accounts app hands in the writer, as this
layer has no models): for a write through the API, in the same transaction as the change
(``ActingScopeMiddleware`` holds the request's writes in one transaction from the moment the
requester acts for someone, renders the answer inside it and rolls it all back, the record
too, when the answer is an error)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from functools import wraps

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import QueryDict
from django.utils.deprecation import MiddlewareMixin
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError

from core.errors import DomainError, Forbidden
from core.middleware import is_api_view

FIELD = "user_id"
PERMISSION = "accounts.act_for_user"
_BODY_METHODS = {"POST", "PUT", "PATCH"}
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

# (actor, for_user, action) -> None: writes one audit record (accounts hands it in at start).
ActingRecorder = Callable[..., None]
_recorder: ActingRecorder | None = None


def set_acting_recorder(recorder: ActingRecorder) -> None:
    """Called once at start by the app that keeps the audit records."""
    global _recorder
    _recorder = recorder


class UnknownActingUser(DomainError):
    # 404 like any object the requester cannot find; `fields` names the parameter.
    status_code = 404
    code = "not_found"


def acting_user_field() -> serializers.CharField:
    """The ``user_id`` field of a request body (its schema); ``acting_user`` reads it."""
    return serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Staff with the permission accounts.act_for_user only: act for this username.",
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
    no active user is a 404 naming ``user_id``; a superuser named by someone who is not one
    is a 403 naming ``user_id``. Acting for someone else writes the audit record (once per
    request)."""
    requester = requester if requester is not None else request.user
    name = requested_username(request)
    if name is None:
        return requester
    _check_may_act(requester)
    user = get_user_model().objects.filter(username=name, is_active=True).first()
    if user is None:
        message = f"No active user named {str(name)[:150]!r}."
        raise UnknownActingUser(f"{FIELD}: {message}", {FIELD: [message]})
    _check_may_act_for(requester, user)
    if user.pk != requester.pk:
        _record(request, requester, user)
    return user


def _check_may_act(requester) -> None:
    """The rule: staff holding ``accounts.act_for_user`` may act for others; anyone else
    passing ``user_id`` is refused."""
    if not requester.is_staff:
        raise PermissionDenied(f"Only staff tokens may pass {FIELD!r}.")
    if not requester.has_perm(PERMISSION):
        message = f"Acting for another user needs the permission {PERMISSION}."
        raise Forbidden(message, {FIELD: [message]})


def _check_may_act_for(requester, user) -> None:
    """...and never for a superuser, unless the requester is one."""
    if user.is_superuser and not requester.is_superuser:
        message = "Only a superuser may act for a superuser."
        raise Forbidden(message, {FIELD: [message]})


def _record(request, actor, for_user) -> None:
    """The audit record, in the request's write transaction when it has one (it opens
    here, before the change), else on its own."""
    plain = getattr(request, "_request", request)  # a DRF request wraps Django's
    recorded = plain.__dict__.setdefault("_acting_recorded", set())
    if for_user.pk in recorded:
        return
    scope: ActingScope | None = getattr(plain, "_acting_scope", None)
    if scope is not None and request.method not in _SAFE_METHODS:
        scope.begin()
    if _recorder is None:
        raise RuntimeError("No acting recorder is set: is the accounts app installed?")
    _recorder(actor=actor, for_user=for_user, action=f"{request.method} {request.path}")
    recorded.add(for_user.pk)


# --- one transaction for a write done for someone else -------------------------------------


def _atomic_depth() -> int:
    return len(transaction.get_connection().atomic_blocks)


class ActingScope:
    """A request's transaction for acting: opened by ``_record``, ended by
    ``in_acting_scope``. It opens only at the depth the request started at (a savepoint when
    a transaction was open already, as under the tests): acting inside a block the view
    opened itself leaves the record in that block, which the view closes first."""

    def __init__(self):
        self._atomic = None
        self._depth = _atomic_depth()

    @property
    def open(self) -> bool:
        return self._atomic is not None

    def begin(self) -> None:
        if self._atomic is None and _atomic_depth() == self._depth:
            self._atomic = transaction.atomic()
            self._atomic.__enter__()

    def end(self, exc_info=(None, None, None)) -> None:
        atomic, self._atomic = self._atomic, None
        if atomic is not None:
            atomic.__exit__(*exc_info)


def in_acting_scope(view):
    """Wrap a sync API view: a write that acts for someone else commits its change, its audit
    record and its rendered answer together, or (an error answer, an exception) none of them.
    Other requests pass through untouched (no transaction is opened for them)."""

    @wraps(view)
    def scoped(request, *args, **kwargs):
        if request.method in _SAFE_METHODS:
            return view(request, *args, **kwargs)
        scope = request._acting_scope = ActingScope()
        try:
            response = view(request, *args, **kwargs)
            if scope.open:
                if callable(getattr(response, "render", None)):
                    response.render()  # a failure to render rolls back too
                if response.status_code >= 400:
                    transaction.set_rollback(True)
        except BaseException:
            scope.end(sys.exc_info())
            raise
        scope.end()
        return response

    return scoped


class ActingScopeMiddleware(MiddlewareMixin):
    """Runs every sync API view (DRF's) in ``in_acting_scope``; the async ones that create
    (``Prefer: wait``) wrap their sync part themselves. Last in MIDDLEWARE: it calls the view.
    A ``MiddlewareMixin`` hook, so async views (long waits) pass through without a thread."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method in _SAFE_METHODS or not is_api_view(view_func):
            return None
        if asyncio.iscoroutinefunction(view_func):
            return None
        return in_acting_scope(view_func)(request, *view_args, **view_kwargs)
