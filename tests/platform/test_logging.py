"""Structured logs: one valid JSON object per line, job id/user/queue on a job's lines."""

import json
import logging
import threading

import pytest

from core.log_context import job_log_context
from generation.models import GenerationJob
from gpu_worker import tasks
from gpu_worker.warmup import enqueue_warmup
from illuplatform.logging_config import build_logging, log_format_for

log = logging.getLogger("tests.ops")


def test_lines_inside_a_job_context_carry_job_user_and_queue(json_log_lines):
    log.info("before")
    with job_log_context("job-1", "alice", "gpu-high"):
        log.info("during %s", "the job", extra={"step": 3})
    log.info("after")
    before, during, after = json_log_lines()
    assert during["message"] == "during the job" and during["step"] == 3
    assert (during["job_id"], during["user"], during["queue"]) == ("job-1", "alice", "gpu-high")
    assert during["level"] == "INFO" and during["logger"] == "tests.ops" and during["time"]
    for line in (before, after):
        assert not {"job_id", "user", "queue"} & set(line)


def test_the_context_stays_in_its_own_thread(json_log_lines):
    with job_log_context("job-2", "bob", "gpu"):
        thread = threading.Thread(target=log.info, args=("from another thread",))
        thread.start()
        thread.join()
        log.info("from the job's thread")
    other, own = json_log_lines()
    assert "job_id" not in other
    assert own["job_id"] == "job-2"


def test_an_exception_stays_inside_one_json_line(json_log_lines):
    with job_log_context("job-3", "carol", "gpu-low"):
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("it failed")
    [line] = json_log_lines()
    assert "ValueError: boom" in line["exception"] and line["job_id"] == "job-3"


def test_format_is_json_unless_debug_and_log_format_overrides():
    assert log_format_for(debug=False, override=None) == "json"
    assert log_format_for(debug=True, override=None) == "plain"
    assert log_format_for(debug=True, override="JSON") == "json"
    assert log_format_for(debug=False, override="plain") == "plain"
    with pytest.raises(ValueError):
        log_format_for(debug=False, override="xml")
    config = build_logging(log_format="json", level="WARNING")
    assert config["formatters"]["json"]["()"].endswith("JsonFormatter")
    assert config["handlers"]["console"]["filters"] == ["job_context"]
    assert config["root"] == {"handlers": ["console"], "level": "WARNING"}


@pytest.mark.django_db(transaction=True)
def test_the_job_layer_logs_tagged_json_inside_the_context(make_user, empty_queues, json_log_lines):
    owner = make_user("dora")
    job = GenerationJob.objects.create(owner=owner, kind="text", status="cancelled")
    with job_log_context(str(job.id), owner.username, "gpu"):
        assert tasks.run_generation_job(str(job.id)) == {"skipped": "cancelled"}
    # The serving loop (gpu_worker.serving.loop) is what RQ runs for a job now.
    [line] = [entry for entry in json_log_lines() if entry["logger"].startswith("gpu_worker.")]
    assert str(job.id) in line["message"]
    assert (line["job_id"], line["user"], line["queue"]) == (str(job.id), "dora", "gpu")


@pytest.mark.e2e
@pytest.mark.slow
def test_a_worker_process_logs_only_json_lines_and_tags_its_job(
    empty_queues, worker_env, start_python, tmp_path
):
    [job_id] = enqueue_warmup(1)
    stdout, stderr = tmp_path / "stdout.log", tmp_path / "stderr.log"
    worker = start_python(
        ["manage.py", "gpu_worker", "--burst"],
        env={**worker_env, "LOG_FORMAT": "json", "LOG_LEVEL": "INFO"},
        log_path=stdout,
        stderr_path=stderr,
    )
    assert worker.wait(timeout=240) == 0, stderr.read_text()
    assert "gpu_worker ready" in stdout.read_text()
    lines = [json.loads(line) for line in stderr.read_text().splitlines()]  # every line is JSON
    tagged = [line for line in lines if line.get("job_id") == job_id]
    assert tagged, lines
    assert all(line["user"] == "system" and line["queue"] == "gpu-high" for line in tagged)
    assert any(line["logger"] == "gpu_worker" and "ready" in line for line in lines)
