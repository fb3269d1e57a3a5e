"""Signing in a long wait (an event stream, a ``Prefer: wait``): the API's authenticators
(token, session) run on the plain Django request, and what signed the user in is kept
(``Credential``) so the stream guard can check later that it still does.

A database that does not answer is ``DatabaseUnavailable`` (503 ``unavailable`` with
``Retry-After``), never "not signed in" (401). Sync: call it inside a short unit."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import Error as DatabaseError
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.settings import api_settings

from core.errors import DomainError

DATABASE_RETRY_AFTER_SECONDS = 5


class DatabaseUnavailable(DomainError):
    status_code = 503
    code = "unavailable"

    def __init__(self, message: str = "The database is not answering; try again shortly."):
        super().__init__(message)
        self.retry_after = DATABASE_RETRY_AFTER_SECONDS


@dataclass(frozen=True)
class Credential:
    """What signed a request in: an API token (its id) or a session (its key)."""

    token_id: str | None = None
    session_key: str | None = None


@dataclass(frozen=True)
class SignedIn:
    user: object
    credential: Credential


def sign_in(request, authenticator_classes=None) -> SignedIn | None:
    """The user the API's authenticators (or ``authenticator_classes``, a view's own) find
    for ``request`` and the credential that did, or None when nobody is signed in (a
    missing, revoked or malformed credential)."""
    classes = authenticator_classes or api_settings.DEFAULT_AUTHENTICATION_CLASSES
    authenticators = [cls() for cls in classes]
    drf_request = Request(request, authenticators=authenticators)
    try:
        user = drf_request.user
    except APIException:
        return None
    except DatabaseError as exc:
        raise DatabaseUnavailable() from exc
    if user is None or not user.is_authenticated:
        return None
    token = drf_request.auth
    if token is not None and hasattr(token, "pk"):
        return SignedIn(user, Credential(token_id=str(token.pk)))
    session_key = request.session.session_key if hasattr(request, "session") else None
    return SignedIn(user, Credential(session_key=session_key))
