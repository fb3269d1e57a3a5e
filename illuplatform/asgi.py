import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illuplatform.settings.base")
application = get_asgi_application()


def _sweep_upload_temp_dirs() -> None:
    """At start: temporary upload files of web processes that were killed are removed."""
    from core.upload_temp import sweep_upload_temp_dirs

    try:
        sweep_upload_temp_dirs()
    except OSError as exc:  # never keep the web server from starting
        import logging

        logging.getLogger(__name__).warning("could not sweep upload folders: %s", exc)


_sweep_upload_temp_dirs()
