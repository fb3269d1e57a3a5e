"""The ASGI application: Django's handler, except that event streams and ``Prefer: wait``
requests hold no thread while they wait (core.long_waits)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illuplatform.settings.base")
django.setup(set_prefix=False)

from core.long_waits import LongWaitASGIHandler  # noqa: E402 - needs the apps loaded

application = LongWaitASGIHandler()


def _sweep_upload_temp_dirs() -> None:
    """At start: temporary upload files of web processes that were killed are removed."""
    from core.upload_temp import sweep_upload_temp_dirs

    try:
        sweep_upload_temp_dirs()
    except OSError as exc:  # never keep the web server from starting
        import logging

        logging.getLogger(__name__).warning("could not sweep upload folders: %s", exc)


_sweep_upload_temp_dirs()
