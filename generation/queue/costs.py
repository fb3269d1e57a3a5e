"""What a model switch costs against a job, read from the fleet's recent jobs, for
checkpoint-aware routing (``scheduling.SwitchCosts``): measured where the workers run, so a
fleet of CPUs, where a load costs less than a job, and one of GPUs, where an SDXL load from
disk costs many jobs, each route by their own figures."""

from __future__ import annotations

import time

from work.models import WorkStatus

from ..models import GenerationJob
from .scheduling import SwitchCosts

RECENT_JOBS = 60
CACHE_S = 10.0  # a claim reads at most one aggregate every this many seconds per process

_cached: tuple[float, SwitchCosts | None] | None = None


def recent_switch_costs() -> SwitchCosts | None:
    """Mean model load (of jobs whose model was not resident) and mean engine time per job
    over the last ``RECENT_JOBS`` finished jobs; None until both have been seen."""
    global _cached
    now = time.monotonic()
    if _cached is not None and now - _cached[0] < CACHE_S:
        return _cached[1]
    timings = (
        GenerationJob.objects.filter(status=WorkStatus.SUCCEEDED, finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("timings", flat=True)[:RECENT_JOBS]
    )
    loads, jobs = [], []
    for timing in timings:
        timing = timing or {}
        if timing.get("model_load_ms", 0) > 0:
            loads.append(timing["model_load_ms"] / 1000)
        if timing.get("inference_ms"):  # a pass's time, shared by the jobs batched in it
            jobs.append(timing["inference_ms"] / 1000 / max(1, timing.get("batch_jobs", 1)))
    costs = SwitchCosts(sum(loads) / len(loads), sum(jobs) / len(jobs)) if loads and jobs else None
    _cached = (now, costs)
    return costs


def forget_switch_costs() -> None:
    """Read the rows again at the next claim (tests that write the rows it reads)."""
    global _cached
    _cached = None
