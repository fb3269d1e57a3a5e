"""The row every kind of background work is: a subclass of ``Work`` (generation jobs,
training runs; later book runs, exports, model fetches). The row in Postgres is the source of
truth; Redis only carries its id to a worker (``work.redis_queue``)."""

from __future__ import annotations

import uuid

from django.db import models


class WorkStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_STATUSES = (WorkStatus.SUCCEEDED, WorkStatus.FAILED, WorkStatus.CANCELLED)
ACTIVE_STATUSES = (WorkStatus.QUEUED, WorkStatus.RUNNING)


class Work(models.Model):
    """What the one lifecycle (``work.lifecycle``) reads and writes on a row of any kind:
    its status, attempts, back-off, worker, cancel deadline, error and timings. A subclass
    adds what its kind needs and is handled through a ``work.kinds.WorkKind``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(
        max_length=16, choices=WorkStatus.choices, default=WorkStatus.QUEUED, db_index=True
    )
    error = models.JSONField(null=True, blank=True)  # {"code", "message"}: why it failed or waits
    attempts = models.PositiveIntegerField(default=0)
    worker_name = models.CharField(max_length=200, blank=True)
    retry_at = models.DateTimeField(
        null=True, blank=True, help_text="A transient failure put it back; not before this time."
    )
    cancel_at = models.DateTimeField(
        null=True, blank=True, help_text="From cancel_after: the job is cancelled if unfinished."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=WorkStatus.values), name="%(class)s_status_valid"
            ),
        ]

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES
