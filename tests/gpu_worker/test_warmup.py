"""Warm-up: in-process at worker start, and as an RQ job queued by `manage.py warmup`."""

import re

import pytest
from django.conf import settings
from django.core.management import call_command
from rq.job import Job
from rq.serializers import JSONSerializer

from gpu_worker.demo_models import register_demo_models
from gpu_worker.job_models import resident_slugs
from gpu_worker.runtime import configured_model, get_engine, resolve_model_source
from gpu_worker.warmup import WARMUP_FUNC, run_warmup
from work.redis_queue import get_queue, get_redis


@pytest.mark.django_db
def test_run_warmup_loads_the_configured_model_and_generates_one_step():
    outcome = run_warmup()  # no registered default: the configured weights
    assert outcome["model"] == configured_model()
    assert outcome["inference_ms"] > 0 and outcome["total_ms"] >= outcome["inference_ms"]
    assert resolve_model_source(configured_model()) in get_engine().pipelines.loaded()


@pytest.mark.django_db
def test_the_registered_default_model_is_warmed_up_and_listed_by_its_slug(demo_models):
    register_demo_models()
    outcome = run_warmup()
    assert outcome["model"] == settings.ILLU_DEFAULT_MODEL == "demo-tiny"
    # What the heartbeat's resident_models (routing, GET /api/v1/models/) lists.
    assert "demo-tiny" in resident_slugs(get_engine().pipelines.loaded())


def test_the_command_queues_json_warmup_jobs_on_the_high_queue(empty_queues, capsys):
    call_command("warmup", count=2)
    queue = get_queue("gpu-high")
    assert queue.count == 2 and get_queue("gpu").count == 0
    for job_id in queue.job_ids:
        job = Job.fetch(job_id, connection=get_redis(), serializer=JSONSerializer)
        assert job.func_name == WARMUP_FUNC and not job.args
    assert "queued 2 warm-up job(s)" in capsys.readouterr().out


@pytest.mark.e2e
@pytest.mark.slow
def test_a_worker_warms_up_at_start_and_runs_queued_warmups(empty_queues, run_worker_burst):
    call_command("warmup", count=1)
    [job_id] = get_queue("gpu-high").job_ids
    output = run_worker_burst().stdout
    ready = re.search(r"gpu_worker ready: .*", output).group(0)
    fields = dict(item.split("=", 1) for item in ready.split(": ", 1)[1].split())
    assert int(fields["warmup_ms"]) > 0 and int(fields["memory_used_mib"]) > 0
    assert int(fields["memory_total_mib"]) >= int(fields["memory_used_mib"])
    job = Job.fetch(job_id, connection=get_redis(), serializer=JSONSerializer)
    assert job.get_status() == "finished"
    result = job.return_value()
    assert result["worker"] == fields["worker"] and result["inference_ms"] > 0
