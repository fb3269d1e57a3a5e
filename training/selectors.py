from django.db.models import QuerySet

from accounts.models import User

from .models import TrainingRun


def trainings_visible_to(user: User) -> QuerySet[TrainingRun]:
    """A user's own runs; another user's run does not exist for them."""
    return TrainingRun.objects.filter(owner=user).select_related("lora", "character")
