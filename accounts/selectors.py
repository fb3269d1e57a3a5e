from dataclasses import dataclass

from django.conf import settings

from .models import Quota, User


@dataclass(frozen=True)
class EffectiveQuota:
    max_concurrent_jobs: int
    images_per_day: int


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
    )
