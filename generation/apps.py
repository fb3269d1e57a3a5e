from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.orphan_sweep import register_stored_prefix

        from .selectors import generated_names_held, upload_names_held

        # What the orphan sweep may remove: uploads and generated images no row names.
        register_stored_prefix("uploads/", upload_names_held)
        register_stored_prefix("generated/", generated_names_held)
