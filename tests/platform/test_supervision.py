"""The supervised `make run` without starting it (fast): the single-instance lock and what
supervisord is told to run. tests/platform/test_faults.py runs the real thing."""

import configparser
import shlex
import subprocess
import sys

import pytest

from illuplatform.supervision import (
    AlreadyRunning,
    StackPaths,
    hold_single_instance_lock,
    supervisord_config,
)
from tests.conftest import REPO_ROOT


def test_a_second_holder_of_the_lock_is_refused_with_the_first_ones_details(tmp_path):
    paths = StackPaths(tmp_path / "var")
    first = hold_single_instance_lock(paths, {"pid": 111, "url": "http://127.0.0.1:8000"})
    # Another process, as a second `make run` would be (flock locks are per open file).
    second = subprocess.run(
        [sys.executable, "-c", (
            "import sys; from pathlib import Path\n"
            "from illuplatform.supervision import *\n"
            "try:\n"
            f"    hold_single_instance_lock(StackPaths(Path({str(paths.var_dir)!r})), {{}})\n"
            "except AlreadyRunning as running:\n"
            "    print(running.info['pid'], running.info['url']); sys.exit(1)\n"
        )],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert second.returncode == 1, second.stderr
    assert second.stdout.split() == ["111", "http://127.0.0.1:8000"]

    first.close()  # the first launcher exits: the folder is free again
    hold_single_instance_lock(paths, {"pid": 222}).close()


def test_lock_is_refused_in_the_same_process_too(tmp_path):
    paths = StackPaths(tmp_path / "var")
    held = hold_single_instance_lock(paths, {"pid": 1})
    with pytest.raises(AlreadyRunning):
        hold_single_instance_lock(paths, {"pid": 2})
    held.close()


def _config(tmp_path, *, embedded_redis: bool) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.read_string(
        supervisord_config(
            StackPaths(tmp_path), root=REPO_ROOT, port=8123, embedded_redis=embedded_redis
        )
    )
    return parser


def test_every_program_restarts_stops_as_a_group_and_logs_under_var(tmp_path):
    config = _config(tmp_path, embedded_redis=True)
    programs = [section.split(":", 1)[1] for section in config.sections() if "program:" in section]
    assert sorted(programs) == sorted(
        [
            "redis",
            "gpu_worker",
            "export_worker",
            "webhook_worker",
            "webhook_scheduler",
            "cleanup",
            "web",
        ]  # fmt: skip
    )
    for name in programs:
        section = config[f"program:{name}"]
        assert section["autorestart"] == "true" and int(section["startretries"]) > 1
        assert section["stopasgroup"] == "true" and section["killasgroup"] == "true"
        assert section["stdout_logfile"] == str(tmp_path / "log" / f"{name}.log")
    priority = {name: int(config[f"program:{name}"]["priority"]) for name in programs}
    # supervisord starts low priorities first and stops them last: Redis outlives its clients.
    assert priority["redis"] < min(priority[name] for name in programs if name != "redis")
    assert priority["web"] == max(priority.values())


def test_private_redis_keeps_an_append_only_file_under_var(tmp_path):
    command = shlex.split(_config(tmp_path, embedded_redis=True)["program:redis"]["command"])
    options = dict(zip(command[1::2], command[2::2], strict=False))
    assert options["--appendonly"] == "yes"
    assert options["--dir"] == str(tmp_path / "redis")
    assert options["--unixsocket"] == str(tmp_path / "run" / "redis.sock")


def test_no_private_redis_when_redis_url_is_set(tmp_path):
    assert not _config(tmp_path, embedded_redis=False).has_section("program:redis")


def test_several_gpu_workers_each_get_a_process_a_log_and_on_cuda_their_own_device(
    tmp_path, monkeypatch
):
    from configparser import RawConfigParser

    from illuplatform.supervision import StackPaths, gpu_worker_processes, supervisord_config

    paths = StackPaths(tmp_path)
    monkeypatch.setenv("ILLU_GPU_WORKERS", "3")
    config = RawConfigParser()  # strict: a key given twice in a section fails here too
    config.read_string(supervisord_config(paths, root=tmp_path, port=8000, embedded_redis=False))
    worker = config["program:gpu_worker"]
    assert worker["numprocs"] == "3"
    assert worker["process_name"] == "%(program_name)s_%(process_num)d"
    assert worker["stdout_logfile"].endswith("gpu_worker_%(process_num)d.log")
    cuda = gpu_worker_processes(paths, 3, on_cuda=True)
    assert 'environment=CUDA_VISIBLE_DEVICES="%(process_num)d"' in cuda
    assert not any(
        line.startswith("environment=") for line in gpu_worker_processes(paths, 3, False)
    )
    monkeypatch.setenv("ILLU_GPU_WORKERS", "1")
    single = RawConfigParser()
    single.read_string(supervisord_config(paths, root=tmp_path, port=8000, embedded_redis=False))
    assert "numprocs" not in single["program:gpu_worker"]
