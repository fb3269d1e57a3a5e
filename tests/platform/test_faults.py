"""Issue 13, findings 1, 2 and 7 against the real `make run` stack: the launcher, supervisord,
Redis (AOF), the GPU worker, the webhook worker and uvicorn, in a scratch folder on a free
port. Faults are injected on purpose with kill -9 and SIGTERM; everything else is real.

The tests share one stack and run in file order; the last one stops it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import xmlrpc.client

import httpx
import psutil
import pytest
from django.conf import settings
from redis import Redis

from bench.faults import KILL_ORDER, DrillLimits, SupervisedStack, run_drill, wait_until
from illuplatform.supervision import rpc
from tests.conftest import REPO_ROOT

LOG_COPY = REPO_ROOT / "test-artifacts" / "supervised-stack-logs"

# All slow: they share one real stack, which takes most of a minute to start.
pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(demo_models):
    stack = SupervisedStack(models_dir=settings.ILLU_MODELS_DIR)
    try:
        stack.start()
        yield stack
    except BaseException:
        print(stack.output()[-4000:])
        raise
    finally:
        stack.stop()
        for program in ("gpu_worker", "web", "supervisord"):
            print(f"--- {program}.log (end) ---\n{stack.log(program)[-3000:]}")
        # Every program's whole log outlives the scratch folder, for a failure's post-mortem.
        shutil.copytree(stack.paths.log_dir, LOG_COPY, dirs_exist_ok=True)
        print(f"logs copied to {LOG_COPY}")
        stack.remove()


def text_job(prompt: str, *, steps: int) -> dict:
    return {"kind": "text", "prompt": prompt, "steps": steps, "width": 256, "height": 256}


def job_body(stack: SupervisedStack, job_id: str) -> dict:
    with stack.client(timeout=10) as client:
        return client.get(f"/api/v1/jobs/{job_id}/").json()


def wait_for_job(stack, job_id, predicate, timeout=180) -> dict:
    def check():
        try:
            body = job_body(stack, job_id)
        except (httpx.HTTPError, ValueError):
            return None
        return body if predicate(body) else None

    body = wait_until(check, timeout=timeout, interval=0.2)
    assert body is not None, f"job {job_id}: condition not met; last {job_body(stack, job_id)}"
    return body


def test_make_run_prints_where_each_process_logs(stack):
    for program in (*KILL_ORDER, "webhook_scheduler", "supervisord"):
        log = stack.paths.log_file(program)
        assert f"{program} " in stack.output() and str(log) in stack.output()
        assert log.exists()
    # The web answers first; the worker logs its ready line once its pipeline is loaded.
    assert wait_until(lambda: "gpu_worker ready" in stack.log("gpu_worker"), timeout=180)


def test_a_second_make_run_in_the_same_folder_says_one_is_running(stack):
    pids = {program: stack.pid(program) for program in KILL_ORDER}

    second = stack.launch(stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, _ = second.communicate(timeout=120)

    assert second.returncode != 0
    assert "already running" in output and stack.base_url in output
    assert {program: stack.pid(program) for program in KILL_ORDER} == pids


def _hold_redis_down(stack: SupervisedStack) -> None:
    """After the kill, supervisord restarts Redis at once; stop that restart so the outage
    lasts until the test starts Redis again."""
    supervisor = rpc(stack.paths).supervisor

    def stopped() -> bool:
        try:
            if supervisor.getProcessInfo("redis")["statename"] != "STOPPED":
                supervisor.stopProcess("redis", True)
            return True
        except xmlrpc.client.Fault:  # not running just now: between its exit and its restart
            return False

    assert wait_until(stopped, timeout=30, interval=0.05)


def test_redis_killed_mid_job_the_job_is_retried_and_the_api_keeps_answering(stack):
    """Finding 2: the worker crashed in RQ's death registration, the job ended failed/internal
    with attempts=1, and the API stopped answering."""
    worker_pid = stack.pid("gpu_worker")
    with stack.client() as client:
        # Long enough to be mid-job when Redis goes.
        created = client.post("/api/v1/jobs/", json=text_job("outage", steps=100))
    job_id = created.json()["id"]
    redis = Redis(unix_socket_path=str(stack.paths.redis_socket))
    redis.set("illu:test:aof-sentinel", "kept")
    assert wait_until(lambda: b"aof-sentinel" in _append_only_files(stack), timeout=30)
    wait_for_job(stack, job_id, lambda job: job["status"] == "running" and job["progress"]["step"])

    # Frozen first, so the outage is certain to reach the running job (supervisord restarts a
    # killed Redis within about a second, which redis-py's retries could otherwise bridge);
    # then killed -9 and kept down until the test starts it again.
    redis_pid = stack.pid("redis")
    os.kill(redis_pid, signal.SIGSTOP)
    queued = wait_for_job(stack, job_id, lambda job: job["status"] != "running", timeout=120)
    os.kill(redis_pid, signal.SIGKILL)
    _hold_redis_down(stack)

    # Back to queued as a transient failure, counted, never failed.
    assert queued["status"] == "queued" and queued["attempts"] == 1
    assert queued["error"]["code"] in ("queue_unavailable", "worker_lost")
    with stack.client() as client:
        ready = client.get("/health/ready/")
        during = client.post("/api/v1/jobs/", json=text_job("during", steps=2))
    assert ready.status_code == 503 and not ready.json()["checks"]["redis"]["ok"]
    assert "redis" in ready.json()["error"]["message"]
    assert during.status_code == 201  # stored; the reconciler enqueues it when Redis is back

    rpc(stack.paths).supervisor.startProcess("redis", True)

    done = wait_for_job(stack, job_id, lambda job: job["status"] in ("succeeded", "failed"))
    # One success with one set of images; on a busy machine a heartbeat that lapsed while
    # Redis came back may add a lost-worker attempt, never a second result.
    assert done["status"] == "succeeded" and done["attempts"] >= 2 and len(done["images"]) == 1
    later = wait_for_job(stack, during.json()["id"], lambda job: job["status"] == "succeeded")
    assert len(later["images"]) == 1
    assert stack.pid("gpu_worker") == worker_pid  # waited for Redis instead of crashing
    assert redis.get("illu:test:aof-sentinel") == b"kept"  # Redis's data survived kill -9


def _append_only_files(stack: SupervisedStack) -> bytes:
    return b"".join(path.read_bytes() for path in stack.paths.redis_dir.rglob("*.aof"))


@pytest.mark.drill
def test_kill_each_supervised_process_while_20_jobs_run(stack):
    # Loose limits: a busy machine slows the drill down; the bench reports the real figures.
    limits = DrillLimits(api_answer_s=60, web_answer_s=120, serving_again_s=300, finish_s=900)
    result = run_drill(stack, jobs=20, limits=limits)
    print("\n" + result.table())

    lost = {job_id: _summary(result.jobs[job_id]) for job_id in result.lost()}
    assert lost == {} and result.duplicated() == []
    for kill in result.kills:
        assert kill.api_answered_s is not None, f"no API answer after killing {kill.process}"
        assert kill.serving_again_s is not None, f"{kill.process} did not come back"
    # Finding 1: a dead GPU worker used to stop the web server, the webhook worker and Redis
    # for good; now it restarts alone. Only Redis's loss may take a program along: the webhook
    # processes (RQ's worker exits when Redis goes), which supervisord restarts; the GPU
    # worker and the web server wait for Redis instead.
    for kill in result.kills:
        allowed = {"webhook_worker", "webhook_scheduler"} if kill.process == "redis" else set()
        assert set(kill.others_restarted) <= allowed, kill
    assert all(len(job["images"]) == 1 for job in result.jobs.values())


def _summary(job: dict) -> dict:
    return {name: job.get(name) for name in ("status", "attempts", "error", "images")}


def test_sigterm_to_the_process_group_stops_everything_redis_included(stack):
    """Finding 7: the private Redis ran in its own session and survived the group's SIGTERM."""
    supervisord_pid = rpc(stack.paths).supervisor.getPID()
    pids = [stack.pid(program) for program in KILL_ORDER] + [supervisord_pid]
    redis_pid = stack.pid("redis")

    assert stack.stop() == 0

    def gone(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    assert wait_until(lambda: all(gone(pid) for pid in pids), timeout=60)
    assert gone(redis_pid)
    assert [process.pid for process in psutil.process_iter() if _of_stack(process, stack)] == []


def _of_stack(process: psutil.Process, stack: SupervisedStack) -> bool:
    """Started for this stack: its folder on the command line (Redis, supervisord) or in the
    environment (every program)."""
    try:
        if str(stack.var_dir) in " ".join(process.cmdline()):
            return process.status() != psutil.STATUS_ZOMBIE
        return process.environ().get("ILLU_VAR_DIR") == str(stack.var_dir)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
