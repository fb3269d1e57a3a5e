"""The baseline of bench/api.py: the least a Django view does to store and read one row.

Mounted at /bench/ only when ILLU_BENCH_BARE_VIEW=true. It writes a table of its own
(``illu_bench_bare``, created on first use) with raw SQL, so no app model or migration changes
for a benchmark. What it skips, compared with POST /api/v1/jobs/, is exactly the platform's
cost: token lookup, validation, parameter resolution, the ORM, the Redis enqueue and the job
serializer. Unauthenticated on purpose: never enable it outside a benchmark.
"""

from __future__ import annotations

import json
import uuid

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

TABLE = "illu_bench_bare"
_table_ready = False


def ensure_table() -> None:
    global _table_ready
    if _table_ready:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} "
            "(id varchar(36) PRIMARY KEY, created_at varchar(40) NOT NULL, body text NOT NULL)"
        )
    _table_ready = True


@csrf_exempt
@require_POST
def bare_create(request: HttpRequest) -> JsonResponse:
    ensure_table()
    body = json.loads(request.body or b"{}")  # parse like the API does, store as given
    row_id = str(uuid.uuid4())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (id, created_at, body) VALUES (%s, %s, %s)",
            [row_id, timezone.now().isoformat(), json.dumps(body)],
        )
    return JsonResponse({"id": row_id}, status=201)


@require_GET
def bare_detail(request: HttpRequest, row_id: str) -> JsonResponse:
    ensure_table()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, created_at, body FROM {TABLE} WHERE id = %s", [row_id])
        row = cursor.fetchone()
    if row is None:
        return JsonResponse({"error": {"code": "not_found", "message": "Not found."}}, status=404)
    return JsonResponse({"id": row[0], "created_at": row[1], "body": json.loads(row[2])})


urlpatterns = [
    path("bare/", bare_create, name="bench-bare-create"),
    path("bare/<str:row_id>/", bare_detail, name="bench-bare-detail"),
]
