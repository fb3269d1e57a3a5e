"""The ASGI application: Django's handler, except that event streams and ``Prefer: wait``
requests hold no thread while they wait (core.long_waits)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illuplatform.settings.base")
django.setup(set_prefix=False)

from core.long_waits import LongWaitASGIHandler  # noqa: E402 - needs the apps loaded

application = LongWaitASGIHandler()
