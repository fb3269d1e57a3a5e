"""Production: Postgres, Redis and S3 from the environment; secure cookies and HTTPS."""

import os

from .base import *  # noqa: F403
from .base import build_logging, env_bool, env_int, log_format_for

DEBUG = False
# base built LOGGING while DEBUG still had its development default: JSON logs here.
LOGGING = build_logging(
    log_format=log_format_for(debug=False, override=os.environ.get("LOG_FORMAT")),
    level=os.environ.get("LOG_LEVEL", "INFO"),
)
SECRET_KEY = os.environ["SECRET_KEY"]

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
