"""Production: Postgres, Redis and S3 from the environment; secure cookies and HTTPS."""

from .base import *  # noqa: F403
from .base import build_logging, env, log_format_for

DEBUG = False
# base built LOGGING while DEBUG still had its development default: JSON logs here.
LOGGING = build_logging(
    log_format=log_format_for(debug=False, override=env.str("LOG_FORMAT", default=None)),
    level=env.str("LOG_LEVEL", default="INFO"),
)
SECRET_KEY = env.str("SECRET_KEY")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
