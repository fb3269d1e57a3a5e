from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.acting import set_acting_recorder
        from core.orphan_sweep import named_by_fields, register_stored_prefix

        from .models import Avatar
        from .services import acting_record_create

        # core.acting decides who may act for whom; the audit records are this app's rows.
        set_acting_recorder(acting_record_create)
        # What the orphan sweep may remove under avatars/: objects no avatar row names.
        register_stored_prefix("avatars/", named_by_fields(Avatar, "image"))
