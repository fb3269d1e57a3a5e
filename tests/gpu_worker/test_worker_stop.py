"""A SIGTERM that finds the idle worker reconciling stops it, as RQ's warm shutdown means:
the reconciler's error guard must not swallow RQ's StopRequested (the worker then blocked in
its next dequeue for up to a minute before it stopped). A SIGTERM during start-up, before RQ
listens for signals, stops it cleanly too."""

import signal

import pytest
from rq import Worker
from rq.exceptions import StopRequested
from rq.utils import now

from gpu_worker.worker import build_worker
from work.redis_queue import get_queue


def test_a_stop_requested_while_reconciling_stops_the_worker(monkeypatch, empty_queues, db):
    def signal_arrives(*args, **kwargs):
        raise StopRequested()  # what RQ's SIGTERM handler raises in an idle worker

    monkeypatch.setattr("generation.work_kind.reconcile_jobs", signal_arrives)
    with pytest.raises(StopRequested):
        build_worker().run_maintenance_tasks()


def test_other_reconciler_errors_never_take_the_worker_down(monkeypatch, empty_queues, db):
    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("generation.work_kind.reconcile_jobs", broken)
    monkeypatch.setattr("training.work_kind.reconcile_trainings", broken)
    build_worker().run_maintenance_tasks()  # logged, not raised


@pytest.fixture
def restored_signal_handlers():
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


def test_a_sigterm_during_start_up_stops_the_worker_before_it_takes_a_job(
    restored_signal_handlers, empty_queues, db
):
    queued = get_queue("gpu").enqueue("builtins.print", "never run")
    worker = build_worker(("gpu",))
    worker.last_cleaned_at = now()  # no reconciling pass: this test is about the signal
    worker.listen_for_stop_signals()
    # The handler the signal would run, called directly: the test process is not signalled.
    signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)

    worker.work(burst=False)  # returns at once instead of serving

    assert worker.shutdown_requested
    queued.refresh()
    assert queued.get_status() == "queued"  # not taken
    # It registered its death: no longer among the live workers.
    assert worker.name not in {w.name for w in Worker.all(connection=worker.connection)}
