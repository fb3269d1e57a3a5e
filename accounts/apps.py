from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # core.acting decides who may act for whom; the audit records are this app's rows.
        from core.acting import set_acting_recorder

        from .services import acting_record_create

        set_acting_recorder(acting_record_create)
