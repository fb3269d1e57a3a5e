from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from books.selectors import book_job_source_register
        from core.orphan_sweep import named_by_fields, register_stored_prefix
        from generation.signals import job_finished

        from .models import BookExport
        from .selectors import upscale_job_ids
        from .upscales import wake_exports_waiting_on

        # An export waiting for its upscale jobs runs again when the last of them ends (in
        # whichever process ended it: a GPU worker).
        job_finished.connect(wake_exports_waiting_on, dispatch_uid="exports.wake")
        register_stored_prefix("exports/", named_by_fields(BookExport, "file"))
        # A book's cost counts the upscale jobs its exports made.
        book_job_source_register(upscale_job_ids)
