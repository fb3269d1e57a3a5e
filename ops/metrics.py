"""Prometheus metrics, computed on request by one custom collector.

Counts come from their sources of truth: jobs and images from the database, queues and workers
from Redis, device memory and loaded models from the workers' heartbeats. Durations are gauge
histograms over the jobs that succeeded in the last ``ILLU_METRICS_WINDOW_HOURS``, built from
each job's stored ``timings``: every web replica then reports the same numbers, and nothing is
lost when a worker restarts (in-process histograms would need a scrape target per worker).
A source that fails is reported by ``illu_metrics_source_up{source} 0``; the rest still renders.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from itertools import product

from django.conf import settings
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric

from generation.models import JobKind
from work.long_wait_caps import open_in_process
from work.models import WorkStatus
from work.workers import live_workers

from . import selectors

logger = logging.getLogger(__name__)

JOB_SECONDS_BUCKETS = (0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800)
INFERENCE_SECONDS_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 4, 6, 8, 10, 15, 20, 30, 60, 120)

# (metric name, help, timings key, buckets)
DURATIONS = (
    (
        "illu_job_duration_seconds",
        "Created to finished, of jobs that succeeded in the metrics window (timings.total_ms).",
        "total_ms",
        JOB_SECONDS_BUCKETS,
    ),
    (
        "illu_job_queue_wait_seconds",
        "Created to started, of jobs that succeeded in the metrics window (timings.queue_ms).",
        "queue_ms",
        JOB_SECONDS_BUCKETS,
    ),
    (
        "illu_job_inference_seconds",
        "Engine denoise and decode time of jobs that succeeded in the window (inference_ms).",
        "inference_ms",
        INFERENCE_SECONDS_BUCKETS,
    ),
)


class IlluCollector:
    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "illu_metrics_source_up", "1 if the source answered this scrape.", labels=["source"]
        )
        for source, build in (
            ("database", self._database),
            ("redis", self._redis),
            ("heartbeats", self._heartbeats),
        ):
            families = _safely(source, build)
            up.add_metric([source], 0 if families is None else 1)
            yield from families or []
        yield up
        open_here = GaugeMetricFamily(
            "illu_long_waits_open",
            "Event streams and Prefer: wait requests open in this web process.",
        )
        open_here.add_metric([], open_in_process())
        yield open_here

    def _database(self) -> list[Metric]:
        jobs = GaugeMetricFamily(
            "illu_jobs", "Job rows by kind and status.", labels=["kind", "status"]
        )
        counts = selectors.job_counts()
        # Every combination, zeros included, so series never appear from nowhere.
        for kind, status in product(JobKind.values, WorkStatus.values):
            jobs.add_metric([kind, status], counts.get((kind, status), 0))
        images = GaugeMetricFamily("illu_images_generated", "Generated images stored (image rows).")
        images.add_metric([], selectors.image_count())
        timed = selectors.recent_job_timings(settings.ILLU_METRICS_WINDOW_HOURS)
        durations = [
            _gauge_histogram(name, doc, key, buckets, timed)
            for name, doc, key, buckets in DURATIONS
        ]
        return [jobs, images, *durations, *self._per_model()]

    def _per_model(self) -> list[Metric]:
        """Autoscaling signals per base model: how many jobs wait for it, and how long the
        oldest has waited (a model no worker takes shows as a growing age)."""
        depth = GaugeMetricFamily(
            "illu_model_queue_depth", "Queued jobs per base model.", labels=["model"]
        )
        oldest = GaugeMetricFamily(
            "illu_model_oldest_queued_seconds",
            "Age of the oldest queued job per base model.",
            labels=["model"],
        )
        for model, (count, age_s) in sorted(selectors.queued_by_model().items()):
            depth.add_metric([model], count)
            oldest.add_metric([model], round(age_s, 3))
        return [depth, oldest]

    def _redis(self) -> list[Metric]:
        depth = GaugeMetricFamily(
            "illu_queue_depth", "Jobs waiting in the queue.", labels=["queue"]
        )
        for queue, count in selectors.queue_depths().items():
            depth.add_metric([queue], count)
        running = GaugeMetricFamily(
            "illu_queue_running", "Jobs taken by a worker and not finished.", labels=["queue"]
        )
        for queue, count in selectors.running_counts().items():
            running.add_metric([queue], count)
        workers = GaugeMetricFamily("illu_rq_workers", "RQ workers registered in Redis.")
        workers.add_metric([], selectors.rq_worker_count())
        return [depth, running, workers]

    def _heartbeats(self) -> list[Metric]:
        states = live_workers()
        live = GaugeMetricFamily("illu_workers_live", "Workers with an unexpired heartbeat.")
        live.add_metric([], len(states))
        labels = ["worker", "device", "kind"]
        used = GaugeMetricFamily(
            "illu_worker_memory_used_bytes",
            "Device memory in use (kind=cuda: whole GPU; kind=rss: worker process RSS).",
            labels=labels,
        )
        total = GaugeMetricFamily(
            "illu_worker_memory_total_bytes", "Device memory (kind=rss: host RAM).", labels=labels
        )
        busy = GaugeMetricFamily("illu_worker_busy", "1 while running a job.", labels=["worker"])
        age = GaugeMetricFamily(
            "illu_worker_heartbeat_age_seconds",
            "Seconds since the last heartbeat.",
            labels=["worker"],
        )
        models = GaugeMetricFamily(
            "illu_worker_model_loaded", "Pipelines warm in the worker.", labels=["worker", "model"]
        )
        # Both stay 0 on a well warmed-up worker: a graph compiled inside a user's job, or a
        # served pass that ran eager, means the served buckets or the warm-up need a look.
        compiled = GaugeMetricFamily(
            "illu_worker_graphs_compiled_after_warmup",
            "UNet graphs torch.compile made after the warm-up (inside jobs).",
            labels=["worker"],
        )
        eager = GaugeMetricFamily(
            "illu_worker_compiled_eager_fallbacks",
            "Passes at a served bucket that ran eager because their graph would not do.",
            labels=["worker"],
        )
        busy_share = GaugeMetricFamily(
            "illu_workers_busy_share", "Share of live workers running a job now (0..1)."
        )
        running = sum(1 for state in states if state["current_job"])
        busy_share.add_metric([], running / len(states) if states else 0)
        switches = GaugeMetricFamily(
            "illu_worker_model_switches",
            "Base model loads that were not already resident, since the worker started.",
            labels=["worker"],
        )
        resident = GaugeMetricFamily(
            "illu_worker_model_resident",
            "Base models (by slug) on the worker's device.",
            labels=["worker", "model"],
        )
        budget = GaugeMetricFamily(
            "illu_worker_model_budget_bytes",
            "Device bytes the worker may fill with resident base models.",
            labels=["worker"],
        )
        for state in states:
            name = state["name"]
            switches.add_metric([name], state["model_switches"])
            budget.add_metric([name], state["memory_budget"])
            for model in state["resident_models"]:
                resident.add_metric([name, model], 1)
            key = [name, state.get("device", ""), state.get("memory_kind", "")]
            used.add_metric(key, state["memory_used"])
            total.add_metric(key, state["memory_total"])
            busy.add_metric([name], 1 if state["current_job"] else 0)
            age.add_metric([name], round(state["age_s"], 3))
            for model in state["models"]:
                models.add_metric([name, model], 1)
            compiled.add_metric([name], state["compile_graphs_after_warmup"])
            eager.add_metric([name], state["compile_eager_fallbacks"])
        return [
            live, used, total, busy, age, models, compiled, eager,
            busy_share, switches, resident, budget,
        ]  # fmt: skip


def _safely(source: str, build: Callable[[], list[Metric]]) -> list[Metric] | None:
    try:
        return build()
    except Exception:  # a scrape reports a dead source; it must not fail as a whole
        logger.exception("metrics source %s failed", source)
        return None


def _gauge_histogram(
    name: str, doc: str, key: str, buckets: Sequence[float], timed: list[tuple[str, dict]]
) -> GaugeHistogramMetricFamily:
    family = GaugeHistogramMetricFamily(name, doc, labels=["kind"])
    by_kind: dict[str, list[float]] = {kind: [] for kind in JobKind.values}
    for kind, timings in timed:
        value = (timings or {}).get(key)
        if isinstance(value, int | float) and kind in by_kind:
            by_kind[kind].append(value / 1000)
    for kind, values in by_kind.items():
        cumulative = [(_le(bound), sum(v <= bound for v in values)) for bound in buckets]
        cumulative.append(("+Inf", len(values)))
        family.add_metric([kind], cumulative, gsum_value=sum(values))
    return family


def _le(bound: float) -> str:
    return repr(float(bound))


def render_metrics() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(IlluCollector())
    return generate_latest(registry)
