"""Usage and cost, derived from job rows each time (``GenerationJob.gpu_ms``, the images a job
generated), never kept as counters that could drift. A job counts in the month it ended, when
its engine time is known; jobs that failed or were cancelled count too (the engine time they
took was spent)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.db.models import Case, CharField, Count, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, TruncMonth

from generation.models import GenerationJob
from work.models import FINISHED_STATUSES

from .months import Month

# Who a user is, for the Prometheus counters: staff, a user allowed priority high by their
# quota, everyone else.
USER_CLASSES = ("staff", "priority", "standard")


def ended_jobs() -> QuerySet[GenerationJob]:
    return GenerationJob.objects.filter(status__in=FINISHED_STATUSES, finished_at__isnull=False)


def _totals(jobs: QuerySet[GenerationJob]) -> dict[str, Any]:
    return jobs.aggregate(
        jobs=Count("id"),
        images=Coalesce(Sum("generated_count"), 0),
        gpu_ms=Coalesce(Sum("gpu_ms"), 0),
    )


def _shown(totals: dict[str, Any]) -> dict[str, Any]:
    return {
        "images": totals["images"],
        "jobs": totals["jobs"],
        "gpu_seconds": round(totals["gpu_ms"] / 1000, 3),
    }


def usage_for_month(*, user, month: Month) -> dict[str, Any]:
    """``{"month", "images", "jobs", "gpu_seconds", "by_kind": {kind: {images, jobs,
    gpu_seconds}}}`` of ``user``'s jobs that ended in ``month`` (UTC)."""
    jobs = ended_jobs().filter(owner=user, finished_at__gte=month.start, finished_at__lt=month.end)
    by_kind = (
        jobs.values("kind")
        .annotate(
            jobs=Count("id"),
            images=Coalesce(Sum("generated_count"), 0),
            gpu_ms=Coalesce(Sum("gpu_ms"), 0),
        )
        .order_by("kind")
    )
    return {
        "month": str(month),
        **_shown(_totals(jobs)),
        "by_kind": {row["kind"]: _shown(row) for row in by_kind},
    }


def usage_by_user_and_month(jobs: QuerySet[GenerationJob] | None = None) -> list[dict[str, Any]]:
    """One row per user and month (newest month first, then the largest engine time):
    ``{"user_id", "username", "month", "images", "jobs", "gpu_seconds"}``; ``jobs`` narrows
    the rows counted (the admin's filters)."""
    jobs = ended_jobs() if jobs is None else jobs.filter(pk__in=ended_jobs().values("pk"))
    rows = (
        jobs.annotate(month=TruncMonth("finished_at", tzinfo=UTC))
        .values("owner_id", "owner__username", "month")
        .annotate(
            jobs=Count("id"),
            images=Coalesce(Sum("generated_count"), 0),
            gpu_ms=Coalesce(Sum("gpu_ms"), 0),
        )
        .order_by("-month", "-gpu_ms", "owner__username")
    )
    return [
        {
            "user_id": row["owner_id"],
            "username": row["owner__username"],
            "month": str(Month.of(row["month"])),
            **_shown(row),
        }
        for row in rows
    ]


def _user_class() -> Case:
    return Case(
        When(owner__is_staff=True, then=Value("staff")),
        When(owner__quota__allow_high_priority=True, then=Value("priority")),
        default=Value("standard"),
        output_field=CharField(),
    )


def usage_by_user_class() -> dict[str, dict[str, Any]]:
    """All-time totals per user class (``USER_CLASSES``, every class present, zeros
    included): ``{class: {"images", "jobs", "gpu_seconds"}}``."""
    rows = (
        ended_jobs()
        .annotate(user_class=_user_class())
        .values("user_class")
        .annotate(
            jobs=Count("id"),
            images=Coalesce(Sum("generated_count"), 0),
            gpu_ms=Coalesce(Sum("gpu_ms"), 0),
        )
        .order_by()
    )
    found = {row["user_class"]: _shown(row) for row in rows}
    empty = {"images": 0, "jobs": 0, "gpu_seconds": 0.0}
    return {name: found.get(name, empty) for name in USER_CLASSES}
