"""Reads of accounts: a user's limits, tokens and avatars, and which credentials still sign in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from .models import ApiToken, Avatar, Quota, User


@dataclass(frozen=True)
class EffectiveQuota:
    max_concurrent_jobs: int
    images_per_day: int
    allow_high_priority: bool = False
    max_job_cost: int = 0  # megapixel-steps
    max_queued_cost: int = 0


def quota_for(user: User) -> EffectiveQuota:
    """The user's limits: their own where set, else the defaults from settings."""
    quota = Quota.objects.filter(user=user).first()

    def pick(own: int | None, default: int) -> int:
        return default if own is None else own

    return EffectiveQuota(
        max_concurrent_jobs=pick(
            quota and quota.max_concurrent_jobs, settings.ILLU_DEFAULT_MAX_CONCURRENT_JOBS
        ),
        images_per_day=pick(quota and quota.images_per_day, settings.ILLU_DEFAULT_IMAGES_PER_DAY),
        allow_high_priority=bool(quota and quota.allow_high_priority),
        max_job_cost=pick(quota and quota.max_job_cost, settings.ILLU_MAX_JOB_COST),
        max_queued_cost=pick(quota and quota.max_queued_cost, settings.ILLU_MAX_QUEUED_COST),
    )


def api_tokens_of(*, user: User) -> QuerySet[ApiToken]:
    """A user's own API tokens, revoked ones included."""
    return ApiToken.objects.filter(user=user)


def avatars_of(*, user: User) -> QuerySet[Avatar]:
    """A user's own avatars, the primary one first."""
    return Avatar.objects.filter(owner=user)


def credentials_still_signing_in(
    *, token_ids: Iterable[str], session_keys: Iterable[str]
) -> tuple[set[str], set[str]]:
    """Of the API tokens (ids) and sessions (keys) given, those that still sign their user in:
    a token not revoked, a session not signed out or expired whose password hash still
    matches, in both cases of an active user. A few queries for any number of them (the
    stream guard asks for every open stream of a process at once)."""
    token_ids, session_keys = set(token_ids), set(session_keys)
    tokens = {
        str(pk)
        for pk in ApiToken.objects.filter(
            pk__in=token_ids, revoked_at__isnull=True, user__is_active=True
        ).values_list("pk", flat=True)
    }
    return tokens, _sessions_signed_in(session_keys) if session_keys else set()


def _sessions_signed_in(session_keys: set[str]) -> set[str]:
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if hasattr(store_class, "get_model_class"):  # database-backed sessions: one query
        rows = store_class.get_model_class().objects.filter(
            session_key__in=session_keys, expire_date__gt=timezone.now()
        )
        sessions = {row.session_key: store_class().decode(row.session_data) for row in rows}
    else:
        sessions = {}
        for key in session_keys:
            store = store_class(session_key=key)
            if store.exists(key):
                sessions[key] = dict(store.items())
    user_ids = {data.get(SESSION_KEY) for data in sessions.values()} - {None}
    users = {str(user.pk): user for user in User.objects.filter(pk__in=user_ids, is_active=True)}
    signed_in = set()
    for key, data in sessions.items():
        user = users.get(str(data.get(SESSION_KEY)))
        if user is not None and _session_hash_matches(user, data.get(HASH_SESSION_KEY) or ""):
            signed_in.add(key)
    return signed_in


def _session_hash_matches(user: User, session_hash: str) -> bool:
    hashes = [user.get_session_auth_hash()]
    if hasattr(user, "get_session_auth_fallback_hash"):
        hashes += list(user.get_session_auth_fallback_hash())
    return any(constant_time_compare(session_hash, known) for known in hashes)
