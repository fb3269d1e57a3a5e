"""A SIGTERM that finds the idle worker reconciling stops it, as RQ's warm shutdown means:
the reconciler's error guard must not swallow RQ's StopRequested (the worker then blocked in
its next dequeue for up to a minute before it stopped)."""

import pytest
from rq.exceptions import StopRequested

from gpu_worker.worker import build_worker


def test_a_stop_requested_while_reconciling_stops_the_worker(monkeypatch, empty_queues, db):
    def signal_arrives(*args, **kwargs):
        raise StopRequested()  # what RQ's SIGTERM handler raises in an idle worker

    monkeypatch.setattr("generation.reconcile.reconcile_jobs", signal_arrives)
    with pytest.raises(StopRequested):
        build_worker().run_maintenance_tasks()


def test_other_reconciler_errors_never_take_the_worker_down(monkeypatch, empty_queues, db):
    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("generation.reconcile.reconcile_jobs", broken)
    monkeypatch.setattr("training.reconcile.reconcile_trainings", broken)
    build_worker().run_maintenance_tasks()  # logged, not raised
