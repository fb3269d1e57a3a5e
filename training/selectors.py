from django.db.models import QuerySet

from accounts.models import User

from .models import TrainingRun


def trainings_visible_to(user: User) -> QuerySet[TrainingRun]:
    """A user's own runs; another user's run does not exist for them."""
    return TrainingRun.objects.filter(owner=user).select_related("lora", "character")


def training_names_held(names: list[str]) -> set[str]:
    """Which of these stored names (``trainings/<run id>/...``) a run holds: its checkpoint
    or one of its samples."""
    import uuid

    run_ids = set()
    for name in names:
        try:
            run_ids.add(uuid.UUID(name.split("/")[1]))
        except (IndexError, ValueError):
            continue
    asked = set(names)
    held: set[str] = set()
    runs = TrainingRun.objects.filter(pk__in=run_ids).values_list("checkpoint_key", "samples")
    for checkpoint_key, samples in runs:
        held |= ({checkpoint_key} | {item.get("key") for item in samples or []}) & asked
    return held
