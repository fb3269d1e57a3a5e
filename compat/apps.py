from django.apps import AppConfig


class CompatConfig(AppConfig):
    name = "compat"
    verbose_name = "Compatibility APIs"
    default_auto_field = "django.db.models.BigAutoField"
