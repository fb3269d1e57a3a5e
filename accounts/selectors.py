"""Reads of accounts: a user's limits, tokens and avatars."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet

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
