from django.apps import AppConfig


class WorkConfig(AppConfig):
    name = "work"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from catalog.residency import register_worker_reader

        from .workers import live_workers

        # The models API shows which workers hold each model; the catalog below reads the
        # heartbeats only through the reader registered here.
        register_worker_reader(live_workers)
