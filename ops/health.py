"""Health: liveness (/health/), readiness of every dependency (/health/ready/), a staff view of
workers and queues (/health/detailed/) and a staff warm-up trigger (/health/warmup/)."""

from __future__ import annotations

import platform
import time
import uuid
from collections.abc import Callable
from functools import lru_cache
from importlib import metadata

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.http import JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from redis import Redis
from redis.exceptions import RedisError
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_errors import error_body
from core.errors import DomainError
from core.parsers import JSONParser
from core.schema import ErrorDetailSerializer
from core.serializers import StrictSerializer
from generation.work_kind import QUEUE_NAMES
from training.work_kind import TRAINING_QUEUE
from work.redis_queue import get_queue
from work.workers import live_workers

# Probes must answer quickly even when Redis hangs rather than refuses.
_REDIS_TIMEOUT_S = 2
_VERSIONED_PACKAGES = (
    "illuplatform",
    "django",
    "djangorestframework",
    "rq",
    "redis",
    "torch",
    "diffusers",
    "transformers",
)


def health(request):
    """Process liveness only; readiness of dependencies is a separate check."""
    return JsonResponse({"status": "healthy", "message": "illuplatform web process is up"})


class Unavailable(DomainError):
    status_code = 503
    code = "unavailable"


@lru_cache(maxsize=4)
def _probe_redis(url: str) -> Redis:
    return Redis.from_url(
        url, socket_connect_timeout=_REDIS_TIMEOUT_S, socket_timeout=_REDIS_TIMEOUT_S
    )


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {}


def _redis() -> dict:
    _probe_redis(settings.REDIS_URL).ping()
    return {}


def _storage() -> dict:
    # A real round trip: existence checks alone pass against a missing bucket.
    name = default_storage.save(f"health/{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
    default_storage.delete(name)
    return {}


def _workers() -> dict:
    count = len(live_workers(_probe_redis(settings.REDIS_URL)))
    if not count:
        raise RuntimeError("no live GPU worker heartbeat")
    return {"count": count}


CHECKS: dict[str, Callable[[], dict]] = {
    "database": _database,
    "redis": _redis,
    "storage": _storage,
    "workers": _workers,
}


def run_checks() -> dict[str, dict]:
    results = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            result = {"ok": True, "error": None, **check()}
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", with its reason
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
        result["ms"] = round((time.perf_counter() - started) * 1000, 1)
        results[name] = result
    return results


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in _VERSIONED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


class CheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    error = serializers.CharField(allow_null=True)
    ms = serializers.FloatField(help_text="How long the check took.")
    count = serializers.IntegerField(required=False, help_text="workers only: live workers.")


class ChecksSerializer(serializers.Serializer):
    database = CheckSerializer()
    redis = CheckSerializer()
    storage = CheckSerializer()
    workers = CheckSerializer()


class ReadySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ready"])
    checks = ChecksSerializer()


class NotReadySerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
    status = serializers.ChoiceField(choices=["not_ready"])
    checks = ChecksSerializer()


class ReadyView(APIView):
    authentication_classes = []  # probes carry no token
    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            200: ReadySerializer,
            503: OpenApiResponse(NotReadySerializer, "A dependency failed; `checks` says which."),
        },
        tags=["health"],
    )
    def get(self, request):
        """200 only when the database, Redis, storage and at least one GPU worker answer."""
        checks = run_checks()
        failed = [name for name, result in checks.items() if not result["ok"]]
        if not failed:
            return Response({"status": "ready", "checks": checks})
        body = error_body("unavailable", f"Not ready: {', '.join(failed)} failed.")
        return Response({**body, "status": "not_ready", "checks": checks}, status=503)


class WorkerSerializer(serializers.Serializer):
    name = serializers.CharField()
    device = serializers.CharField()
    memory_kind = serializers.ChoiceField(choices=["cuda", "rss"])
    memory_total = serializers.IntegerField(help_text="Bytes.")
    memory_used = serializers.IntegerField(help_text="Bytes (whole device on CUDA).")
    memory_reserved = serializers.IntegerField(help_text="Bytes held by the worker's allocator.")
    models = serializers.ListField(child=serializers.CharField(), help_text="Loaded pipelines.")
    resident_models = serializers.ListField(
        child=serializers.CharField(), help_text="Base models (slugs) on its device."
    )
    host_models = serializers.ListField(
        child=serializers.CharField(), help_text="Base models parked in host memory."
    )
    memory_budget = serializers.IntegerField(help_text="Device bytes for resident models.")
    model_room = serializers.IntegerField(help_text="Models it can load without evicting.")
    model_switches = serializers.IntegerField(help_text="Loads of a model not resident.")
    current_job = serializers.CharField(allow_null=True)
    host = serializers.CharField()
    pid = serializers.IntegerField()
    age_s = serializers.FloatField(help_text="Seconds since the last heartbeat.")


class DetailedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ready", "not_ready"])
    checks = ChecksSerializer()
    workers = WorkerSerializer(many=True)
    queues = serializers.DictField(
        child=serializers.IntegerField(),
        allow_null=True,
        help_text="Queue name -> queued jobs; null when Redis does not answer.",
    )
    versions = serializers.DictField(child=serializers.CharField(allow_null=True))


class DetailedView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=DetailedSerializer, tags=["health"])
    def get(self, request):
        """Staff only: readiness checks, live workers, queue depths and versions."""
        checks = run_checks()
        redis_ok = checks["redis"]["ok"]
        body = {
            "status": "ready" if all(result["ok"] for result in checks.values()) else "not_ready",
            "checks": checks,
            "workers": live_workers(_probe_redis(settings.REDIS_URL)) if redis_ok else [],
            "queues": (
                {name: get_queue(name).count for name in (*QUEUE_NAMES, TRAINING_QUEUE)}
                if redis_ok
                else None
            ),
            "versions": _versions(),
        }
        return Response(DetailedSerializer(body).data)


class WarmupRequestSerializer(StrictSerializer):
    count = serializers.IntegerField(
        min_value=1, max_value=16, default=1, help_text="Warm-up jobs to queue."
    )


class WarmupQueuedSerializer(serializers.Serializer):
    queue = serializers.CharField()
    jobs = serializers.ListField(child=serializers.CharField(), help_text="RQ job ids.")


class WarmupView(APIView):
    permission_classes = [IsAdminUser]
    parser_classes = [JSONParser]

    @extend_schema(
        request=WarmupRequestSerializer,
        responses={202: WarmupQueuedSerializer},
        tags=["health"],
    )
    def post(self, request):
        """Staff only: queue warm-up jobs on the high-priority queue."""
        serializer = WarmupRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # Imported here: the warm-up module pulls in the engine (torch), which the web process
        # otherwise never needs.
        from gpu_worker.warmup import WARMUP_QUEUE, enqueue_warmup

        try:
            jobs = enqueue_warmup(serializer.validated_data["count"])
        except RedisError as exc:
            raise Unavailable(f"Could not queue the warm-up: Redis did not answer ({exc}).")
        return Response({"queue": WARMUP_QUEUE, "jobs": jobs}, status=status.HTTP_202_ACCEPTED)
