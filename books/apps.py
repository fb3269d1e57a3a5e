from django.apps import AppConfig


class BooksConfig(AppConfig):
    name = "books"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from generation.signals import job_finished

        from .page_selection import page_job_finished

        # A page reacts to its job's end (select, re-roll or repair) without polling.
        job_finished.connect(page_job_finished, dispatch_uid="books.page_job_finished")
