from django.apps import AppConfig


class CatalogConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "catalog"

    def ready(self) -> None:
        from core.orphan_sweep import named_by_fields, register_stored_prefix

        from .models import Lora

        # What the orphan sweep may remove under loras/: objects no registry entry names.
        register_stored_prefix("loras/", named_by_fields(Lora, "file", "preview"))
