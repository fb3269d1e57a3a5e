from django.db.models import QuerySet

from accounts.models import User

from .models import GenerationJob


def jobs_visible_to(user: User) -> QuerySet[GenerationJob]:
    """A user's own jobs; another user's job simply does not exist for them."""
    return GenerationJob.objects.filter(owner=user).prefetch_related("images")
