from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.orphan_sweep import register_stored_prefix

        from .selectors import training_names_held

        # What the orphan sweep may remove under trainings/: checkpoints and samples no run
        # names.
        register_stored_prefix("trainings/", training_names_held)
