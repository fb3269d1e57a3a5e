"""Worker heartbeats: a Redis hash per live worker with its device, memory and models."""

import signal
import subprocess
import time
import uuid

import pytest

from gpu_worker.heartbeat import Heartbeat, worker_state
from tests.fixtures.lifecycle import wait_for
from work.redis_queue import get_redis
from work.workers import KEY_PREFIX, live_workers


def test_a_heartbeat_writes_the_state_with_a_ttl_and_stop_removes_it(clean_heartbeats):
    redis = get_redis()
    state = worker_state(name="w-1", device="cpu", models=["m1", "m2"], current_job="job-9")
    heartbeat = Heartbeat(redis, lambda: {**state, "time": time.time()}, interval=0.05, ttl=7)
    heartbeat.start()
    try:
        time.sleep(0.2)
        [worker] = live_workers(redis)
        assert worker["name"] == "w-1" and worker["device"] == "cpu"
        assert worker["models"] == ["m1", "m2"] and worker["current_job"] == "job-9"
        assert worker["memory_kind"] == "rss" and worker["memory_used"] > 0
        assert worker["memory_total"] >= worker["memory_used"]
        assert worker["pid"] > 0 and worker["age_s"] < 5
        assert 0 < redis.ttl(KEY_PREFIX + "w-1") <= 7
    finally:
        heartbeat.stop()
    assert live_workers(redis) == []


@pytest.mark.e2e
@pytest.mark.slow
def test_a_running_worker_is_live_with_its_model_until_it_stops(
    clean_heartbeats, worker_env, start_python, tmp_path
):
    name = f"hb-test-{uuid.uuid4().hex[:8]}"
    log_path = tmp_path / "worker.log"
    process = start_python(
        ["manage.py", "gpu_worker", "--name", name],
        env={**worker_env, "ILLU_WARMUP_ON_START": "false", "ILLU_HEARTBEAT_INTERVAL": "1"},
        log_path=log_path,
    )
    try:
        ready = wait_for(lambda: _ready_line(log_path) or process.poll() is not None, 180)
        assert process.poll() is None, log_path.read_text()
        assert "gpu_worker ready" in ready and "warmup_ms=0" in ready
        assert "memory=" in ready and "memory_used_mib=" in ready
        [worker] = [state for state in live_workers() if state["name"] == name]
        assert worker["pid"] == process.pid
        assert worker["device"] and worker["memory_used"] > 0
        assert len(worker["models"]) == 1 and "tiny-sdxl" in worker["models"][0]
        assert worker["compile_graphs_after_warmup"] == worker["compile_eager_fallbacks"] == "0"
    finally:
        # Right after "ready", maybe before RQ listens for signals: still a clean stop.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert name not in {state["name"] for state in live_workers()}


def _ready_line(log_path) -> str:
    lines = log_path.read_text().splitlines()
    return next((line for line in lines if "gpu_worker ready" in line), "")
