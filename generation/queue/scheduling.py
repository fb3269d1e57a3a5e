"""Scheduling decisions as pure functions over queued rows: which jobs can share a denoising
pass, the fair-share order across owners, checkpoint-aware routing across workers and LoRA
affinity (each with a bounded pass-over), and each queued job's position and estimated
start. No Django, no Redis: tested without a GPU."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

PRIORITY_RANK = {"high": 0, "normal": 1, "low": 2}

# Params that select a different denoising pass: jobs share one only when all are equal.
_PASS_PARAMS = ("model", "width", "height", "steps", "scheduler", "guidance_scale")


def batch_key(params: Mapping[str, Any]) -> tuple | None:
    """What must be equal for jobs to share one pass; None when the job always runs alone:
    editing a source image, the consistency filter's extra rounds and face repairs (each
    reruns its own job with new seeds or crops), and the low-memory retry. Control and
    reference images (a control upload, an avatar, a character's references) do not keep a
    job alone: jobs with the same kind of them (``conditioning_key``) share a pass, each with
    its own images, and each job's images are scored for identity on their own after it."""
    if params.get("source_image") or params.get("source_upload") or params.get("source_width"):
        return None
    if (params.get("consistency") or {}).get("repair"):
        return None
    if (params.get("consistency") or {}).get("filter"):
        return None
    if params.get("memory_profile") == "low":  # retried after running out of memory
        return None
    return (
        *(params.get(name) for name in _PASS_PARAMS),
        lora_key(params),
        params.get("memory_profile") or "",
        conditioning_key(params),
    )


def conditioning_key(params: Mapping[str, Any]) -> tuple:
    """The kind of control and reference input a job brings, without its images: the control
    type (it picks the ControlNet), scale and preprocessing; the IP-Adapter scale and the
    number of reference images (an avatar is one, and wins over references as the worker
    reads them)."""
    control = params.get("control")
    control_key = None
    if control:
        scale = float(control.get("scale", 1.0))
        control_key = (control["type"], scale, bool(control.get("preprocess", True)))
    references = 1 if params.get("avatar") else len(params.get("reference_images") or [])
    scale = params.get("ip_adapter_scale")
    reference_key = (None if scale is None else float(scale), references) if references else None
    return control_key, reference_key


def lora_key(params: Mapping[str, Any]) -> tuple:
    """The LoRA set and weights a job needs loaded, order-free."""
    return tuple(
        sorted((item["sha256"], float(item["weight"])) for item in params.get("loras", []))
    )


@dataclass(frozen=True)
class QueuedJob:
    """The part of a queued row the scheduler reads."""

    id: str
    owner: str
    priority: str
    created_at: datetime
    num_images: int
    key: tuple | None  # batch_key(params); None: runs alone
    loras: tuple  # lora_key(params)
    model: str = ""  # params["model"]: the base model's slug


def fair_order(
    jobs: Iterable[QueuedJob], last_served: Mapping[str, datetime] | None = None
) -> list[QueuedJob]:
    """Priority first; within a priority, round-robin by owner: every owner's oldest queued
    job comes before anyone's second one, and among owners the least recently served goes
    first (never served before: by the age of their job). A user with 200 queued jobs delays
    another user's single job by at most one turn."""
    last_served = last_served or {}
    by_owner: dict[tuple[str, str], list[QueuedJob]] = {}
    for job in sorted(jobs, key=lambda job: (job.created_at, job.id)):
        by_owner.setdefault((job.priority, job.owner), []).append(job)
    never = datetime.min.replace(tzinfo=None)

    def served(owner: str) -> datetime:
        value = last_served.get(owner)
        return value.replace(tzinfo=None) if value is not None else never

    ranked = []
    for (priority, owner), owned in by_owner.items():
        for turn, job in enumerate(owned):
            ranked.append(
                ((PRIORITY_RANK.get(priority, 1), turn, served(owner), job.created_at, job.id), job)
            )
    return [job for _, job in sorted(ranked, key=lambda item: item[0])]


def fifo_order(jobs: Iterable[QueuedJob]) -> list[QueuedJob]:
    """Priority, then age: the order of a plain queue (no fair share), for comparison."""
    return sorted(
        jobs, key=lambda job: (PRIORITY_RANK.get(job.priority, 1), job.created_at, job.id)
    )


@dataclass(frozen=True)
class WorkerView:
    """What routing reads of one live worker's heartbeat."""

    name: str
    resident: frozenset[str]  # model slugs on its device
    busy: bool  # running a job now
    room: int  # models it can still load without pushing one out


@dataclass(frozen=True)
class SwitchCosts:
    """What a model switch costs against a job, from the fleet's recent jobs: ``load_s``, the
    mean load of a model that was not resident; ``job_s``, the mean engine time of a job."""

    load_s: float
    job_s: float

    def holders_drain_first(self, backlog: int, holders: int) -> bool:
        """Whether ``holders`` workers serve ``backlog`` jobs of their model before one more
        worker could load it: then a second copy only adds a switch."""
        return backlog * self.job_s / max(holders, 1) <= self.load_s


@dataclass(frozen=True)
class Routing:
    """Checkpoint-aware routing for the worker ``me``: a job is *its own* when its model is
    resident on it, or when no live worker holds that model and no other worker could load
    it sooner (an idle one with room where ``me`` has none). ``passed_over`` counts, across
    all workers, how often each job was skipped for another's own job; at ``max_pass`` a job
    is skipped no more."""

    me: str
    fleet: Mapping[str, WorkerView]
    passed_over: Mapping[str, int]
    max_pass: int
    costs: SwitchCosts | None = None  # the fleet's recent load and job times; None: not known

    def is_mine(self, model: str) -> bool:
        mine = self.fleet.get(self.me)
        if mine is not None and model in mine.resident:
            return True
        others = [view for name, view in self.fleet.items() if name != self.me]
        if any(model in view.resident for view in others):
            return False
        if mine is None or mine.room > 0:
            return True
        return not any(not view.busy and view.room > 0 for view in others)

    def holders(self, model: str) -> int:
        """Live workers other than ``me`` that hold ``model``."""
        return sum(
            1 for name, view in self.fleet.items() if name != self.me and model in view.resident
        )

    def leaves_to_holder(self, head: QueuedJob, ordered: Sequence[QueuedJob]) -> bool:
        """Whether this worker, with no job of its own in reach, should leave ``head`` to the
        workers that hold its model rather than load that model too: while the head was
        passed over less than the bound, and the holders serve the model's whole queue before
        a load here would end (``SwitchCosts.holders_drain_first``); past that, a second copy
        pays. With no recent figures, a load is taken to cost ``max_pass`` jobs."""
        holders = self.holders(head.model)
        if not holders or self.passed_over.get(head.id, 0) >= self.max_pass:
            return False
        backlog = sum(1 for job in ordered if job.model == head.model)
        if self.costs is None:
            return backlog <= self.max_pass * holders
        return self.costs.holders_drain_first(backlog, holders)


def route_head(
    ordered: Sequence[QueuedJob], routing: Routing
) -> tuple[QueuedJob | None, list[str]]:
    """The head this worker should take, and the ids it skips for it: the fair head when it
    is this worker's own (``Routing.is_mine``), else the first own job of the same priority
    after it, unless a job it would skip reached ``max_pass`` already. With no own job in
    reach, the fair head is left to the workers holding its model while they will serve it
    soon (``Routing.leaves_to_holder``: None, the head skipped once, so its bound holds);
    else it runs here."""
    head = ordered[0]
    if routing.is_mine(head.model):
        return head, []
    for index, candidate in enumerate(ordered):
        if candidate.priority != head.priority:
            break
        if routing.passed_over.get(candidate.id, 0) >= routing.max_pass:
            break  # nothing may be skipped beyond its bound: take the fair head
        if candidate is not head and routing.is_mine(candidate.model):
            return candidate, [job.id for job in ordered[:index]]
    if routing.leaves_to_holder(head, ordered):
        return None, [head.id]
    return head, []


@dataclass(frozen=True)
class BatchChoice:
    jobs: list[QueuedJob]
    passed_over: list[str]  # ids of fairer jobs skipped for LoRA affinity
    routed_over: list[str] = field(default_factory=list)  # skipped for another's model


def pick_batch(
    ordered: Sequence[QueuedJob],
    *,
    max_batch: int,
    loaded_loras: tuple | None = None,
    passed_over: Mapping[str, int] | None = None,
    max_pass_over: int = 0,
    routing: Routing | None = None,
) -> BatchChoice:
    """The next batch from jobs in ``fair_order``: a head job, then every later job of the
        same priority with the same batch key, up to ``max_batch`` images (a head asking for more
        images than that still runs, alone). With LoRA affinity (``max_pass_over`` > 0), a head
        whose LoRA set is already loaded is preferred over the fair head, unless the fair head
        was passed over ``max_pass_over`` times already: nothing waits more than that many
        batches for its LoRA. With ``routing`` (checkpoint-aware), the head is first chosen by
        model (``route_head``; it may leave every job to the workers that hold their models: an
    empty batch), and LoRA affinity looks only at jobs of the head's model."""
    if not ordered:
        return BatchChoice([], [])
    passed_over = passed_over or {}
    routed: list[str] = []
    if routing is not None:
        head, routed = route_head(ordered, routing)
        if head is None:  # left to the workers that hold its model
            return BatchChoice([], [], routed)
        ordered = [job for job in ordered if job.id not in set(routed)]
    head = ordered[0]
    skipped: list[str] = []
    if max_pass_over > 0 and loaded_loras is not None and head.loras != loaded_loras:
        for candidate in ordered:
            if candidate.priority != head.priority:
                break
            if candidate.loras == loaded_loras and candidate.model == head.model:
                ahead = ordered[: ordered.index(candidate)]
                if all(passed_over.get(job.id, 0) < max_pass_over for job in ahead):
                    skipped = [job.id for job in ahead]
                    head = candidate
                break
    batch = [head]
    images = head.num_images
    if head.key is not None:
        for job in ordered:
            if job is head or job.priority != head.priority or job.key != head.key:
                continue
            if images + job.num_images > max_batch:
                continue
            batch.append(job)
            images += job.num_images
    return BatchChoice(batch, skipped, routed)


@dataclass(frozen=True)
class QueueEstimate:
    position: int  # 1: next to start
    batches_ahead: int
    estimated_start: datetime


def queue_estimates(
    ordered: Sequence[QueuedJob],
    *,
    max_batch: int,
    now: datetime,
    seconds_per_batch: float,
    workers: int = 1,
    busy_seconds: float = 0.0,
) -> dict[str, QueueEstimate]:
    """Where each queued job stands, by playing the scheduler's own ``pick_batch`` forward
    (without affinity, which only ever reorders within its bound): its position counts the
    jobs that start before it, the start estimate the batches ahead spread over ``workers``."""
    remaining = list(ordered)
    estimates: dict[str, QueueEstimate] = {}
    served = 0
    batch_index = 0
    while remaining:
        choice = pick_batch(remaining, max_batch=max_batch)
        chosen = {job.id for job in choice.jobs}
        rounds = batch_index // max(workers, 1)
        start = now + timedelta(seconds=busy_seconds + rounds * seconds_per_batch)
        for job in choice.jobs:
            estimates[job.id] = QueueEstimate(served + 1, batch_index, start)
        served += len(choice.jobs)
        batch_index += 1
        remaining = [job for job in remaining if job.id not in chosen]
    return estimates
