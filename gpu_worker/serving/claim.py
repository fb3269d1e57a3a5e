"""Claiming the next batch: read the queued rows, let the scheduling functions choose, take
the chosen rows atomically, and account for their queue entries."""

from __future__ import annotations

import logging
from dataclasses import replace

from django.conf import settings
from django.utils import timezone
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from generation.models import GenerationJob
from generation.queue.costs import recent_switch_costs
from generation.queue.order import scheduled_order
from generation.queue.scheduling import Routing, pick_batch
from generation.work_kind import JOBS
from work.lifecycle import work_claim_many
from work.redis_queue import get_redis

from .fleet import (
    announce_model,
    count_routed,
    fleet_view,
    routed_counts,
    wake_waiting_workers,
)
from .state import ServingState

logger = logging.getLogger(__name__)


def max_batch_images(memory_profile: str) -> int:
    """ILLU_MAX_BATCH, but one image per pass where memory is short (offloaded models)."""
    return 1 if memory_profile == "low" else max(1, settings.ILLU_MAX_BATCH)


def claim_next_batch(
    *, worker_name: str, state: ServingState, memory_profile: str, woken_by: str | None = None
) -> tuple[list[GenerationJob], list[str]]:
    """Take the scheduler's next batch. Returns the claimed rows (in batch order) and the ids
    whose queue entries were removed because the batch took their jobs; none, with
    ``state.waits_for_fleet`` set, when routing left the queue to the workers holding its
    models."""
    state.waits_for_fleet = False
    now = timezone.now()
    ordered = scheduled_order(now, woken_by)
    routing = _routing(worker_name, ordered)
    choice = pick_batch(
        ordered,
        max_batch=max_batch_images(memory_profile),
        loaded_loras=state.loaded_loras,
        passed_over=state.passed_over,
        max_pass_over=settings.ILLU_LORA_AFFINITY_MAX_PASS,
        routing=routing,
    )
    if not choice.jobs:
        if choice.routed_over:  # left to the workers holding its model: wait for them
            count_routed(choice.routed_over, [])
            state.waits_for_fleet = True
        return [], []
    claimed = work_claim_many(
        JOBS, row_ids=[job.id for job in choice.jobs], worker_name=worker_name, started_at=now
    )
    if not claimed:
        return [], []
    count_routed(choice.routed_over, claimed)
    state.serving_model = choice.jobs[0].model
    if routing is not None:
        announce_model(worker_name, routing.fleet.get(worker_name), state.serving_model)
    wake_waiting_workers(worker_name)
    for job_id in choice.passed_over:
        state.passed_over[job_id] = state.passed_over.get(job_id, 0) + 1
    for job_id in claimed:
        state.passed_over.pop(job_id, None)
    removed = remove_queue_entries([job_id for job_id in claimed if job_id != woken_by])
    rows = GenerationJob.objects.in_bulk(claimed)
    return [rows[_pk(job_id, rows)] for job_id in claimed], removed


def _routing(worker_name: str, ordered: list) -> Routing | None:
    """Checkpoint-aware routing (ILLU_ROUTING=checkpoint) for this worker, over the fleet's
    heartbeats; None for plain FIFO routing."""
    if settings.ILLU_ROUTING != "checkpoint" or not ordered:
        return None
    fleet = fleet_view()
    # The claiming worker is between jobs, whatever its last heartbeat said.
    if worker_name in fleet:
        fleet[worker_name] = replace(fleet[worker_name], busy=False)
    return Routing(
        me=worker_name,
        fleet=fleet,
        passed_over=routed_counts([job.id for job in ordered]),
        max_pass=settings.ILLU_MODEL_AFFINITY_MAX_PASS,
        costs=recent_switch_costs() if len(fleet) > 1 else None,  # no one to leave jobs to
    )


def _pk(job_id: str, rows: dict):
    return next(pk for pk in rows if str(pk) == job_id)


def remove_queue_entries(job_ids: list[str]) -> list[str]:
    """A job claimed into someone else's batch must not run again from its own entry: delete
    each entry still waiting on a queue (one already started by another worker is left to
    find the row running and skip)."""
    removed = []
    for job_id in job_ids:
        try:
            entry = Job.fetch(job_id, connection=get_redis(), serializer=JSONSerializer)
        except NoSuchJobError:
            continue
        if entry.get_status(refresh=False) == JobStatus.QUEUED:
            entry.delete(remove_from_queue=True)
            removed.append(job_id)
    if removed:
        logger.info("claimed into a batch; removed their queue entries: %s", ", ".join(removed))
    return removed
