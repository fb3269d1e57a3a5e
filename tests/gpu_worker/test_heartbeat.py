"""Worker heartbeats: a Redis hash per live worker with its device, memory and models."""

import signal
import subprocess
import sys
import time
import uuid

import pytest
from rq import Worker

from generation.queueing import get_redis
from generation.worker_registry import KEY_PREFIX, live_workers
from gpu_worker.heartbeat import Heartbeat, worker_state
from tests.conftest import REPO_ROOT


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
def test_a_running_worker_is_live_with_its_model_until_it_stops(clean_heartbeats, worker_env):
    name = f"hb-test-{uuid.uuid4().hex[:8]}"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "gpu_worker", "--name", name],
        cwd=REPO_ROOT,
        env={**worker_env, "ILLU_WARMUP_ON_START": "false", "ILLU_HEARTBEAT_INTERVAL": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        ready = process.stdout.readline()
        assert "gpu_worker ready" in ready and "warmup_ms=0" in ready
        assert "memory=" in ready and "memory_used_mib=" in ready
        [worker] = [state for state in live_workers() if state["name"] == name]
        assert worker["pid"] == process.pid
        assert worker["device"] and worker["memory_used"] > 0
        assert len(worker["models"]) == 1 and "tiny-sdxl" in worker["models"][0]
        # SIGTERM is RQ's warm shutdown once the worker has registered (and set its handlers).
        deadline = time.monotonic() + 30
        while (
            Worker.find_by_key(Worker.redis_worker_namespace_prefix + name, connection=get_redis())
            is None
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)  # RQ's warm shutdown
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert name not in {state["name"] for state in live_workers()}
