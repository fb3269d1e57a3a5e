from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.orphan_sweep import named_by_fields, register_stored_prefix

        from .models import Avatar

        # What the orphan sweep may remove under avatars/: objects no avatar row names.
        register_stored_prefix("avatars/", named_by_fields(Avatar, "image"))
