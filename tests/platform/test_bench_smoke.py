"""Each benchmark runs end to end with tiny settings and writes well-formed results.
Timings are never asserted: only that the figures exist and are positive."""

import json
import os
import uuid

import pytest

from bench.launch import run_python
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.bench_smoke]


@pytest.fixture
def run_bench(prefork_env, tmp_path):
    """Run ``python -m bench.<module> <args> --out <out>`` to the end, forked from the
    prefork server with everything it starts, as its users would run it otherwise."""

    def run(module: str, out, *args: str) -> None:
        env = {**os.environ, **prefork_env, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        code, output = run_python(
            ["-m", f"bench.{module}", *args, "--out", str(out)],
            env=env,
            log_path=tmp_path / f"bench-{module}.log",
            timeout=900,
        )
        assert code == 0, output[-8000:]
        assert "wrote" in output

    return run


def load(out, name: str) -> dict:
    assert (out / f"{name}.png").stat().st_size > 0
    return json.loads((out / f"{name}.json").read_text())


def positive(*values) -> bool:
    return all(isinstance(v, int | float) and v > 0 for v in values)


def test_platform_bench(tmp_path, run_bench, empty_queues):
    db = f"illu_bench_smoke_{uuid.uuid4().hex[:8]}"
    run_bench(
        "platform", tmp_path, "--jobs", "4", "--serial", "1", "--steps", "1",
        "--db-name", db,
    )  # fmt: skip
    results = load(tmp_path, "platform")
    assert results["machine"]["cpus"] and results["services"]["storage"].startswith("s3")
    serial, batch = results["serial"], results["batch"]
    assert serial["succeeded"] == 1 and batch["succeeded"] == batch["jobs"] == 4
    for figure in (serial["e2e_overhead_ms"], serial["e2e_ms"], batch["worker_overhead_ms"]):
        assert positive(figure["median"], figure["p95"])
    assert positive(batch["jobs_per_s"], batch["worker_jobs_per_s"], batch["store_ms"]["median"])
    assert "gpu_worker ready" in results["worker_ready"]


def test_api_bench(tmp_path, run_bench, empty_queues):
    db = f"illu_bench_smoke_{uuid.uuid4().hex[:8]}"
    run_bench(
        "api", tmp_path, "--clients", "4", "--duration", "0.5", "--warmup", "0.1",
        "--requests", "100", "--db-name", db,
    )  # fmt: skip
    results = load(tmp_path, "api")
    assert set(results["endpoints"]) == {"api_post", "bare_post", "api_get", "bare_get"}
    for endpoint in results["endpoints"].values():
        assert endpoint["ok"] > 0 and endpoint["errors"] == 0, endpoint
        assert positive(endpoint["rps"], endpoint["p50_ms"], endpoint["p99_ms"])
    assert positive(*results["ratios"].values())


def test_engine_bench(tmp_path, run_bench):
    run_bench(
        "engine", tmp_path, "--device", "cpu", "--presets", "draft", "--batch-sizes", "1", "2",
        "--models-dir", str(REPO_ROOT / "var" / "bench-models" / "cpu"),
    )  # fmt: skip
    results = load(tmp_path, "engine-cpu")
    rows = {row["variant"]: row for row in results["presets"]}
    assert set(rows) == {"base", "controlnet", "ip_adapter", "two_loras", "all"}
    for row in rows.values():
        assert row["status"] in {"ok", "unavailable"}
        if row["status"] == "ok":
            assert positive(row["seconds_per_image"], row["peak_memory_bytes"])
        else:
            assert row["reason"]
    assert rows["base"]["status"] == "ok"
    assert [row["batch_size"] for row in results["batches"]] == [1, 2]
    assert all(positive(row["images_per_hour"]) for row in results["batches"])
    assert positive(results["load"]["first_load_ms"], results["load"]["reload_ms"])
    if results["lora"]["status"] == "ok":
        assert positive(results["lora"]["load_ms"], results["lora"]["switch_ms"])


def test_upscale_bench(tmp_path, run_bench):
    run_bench(
        "upscale", tmp_path, "--device", "cpu", "--source", "128", "--tile", "256",
        "--overlap", "32", "--steps", "4",
        "--models-dir", str(REPO_ROOT / "var" / "bench-models" / "cpu"),
    )  # fmt: skip
    results = load(tmp_path, "upscale-cpu")
    rows = {row["method"]: row for row in results["rows"]}
    assert set(rows) == {"lanczos", "tiled"}
    assert rows["tiled"]["output"] == "512x512" and rows["tiled"]["tiles"] == 9
    assert rows["tiled"]["steps_run"] == 9  # int(4 * 0.3) = 1 step per tile
    assert positive(rows["tiled"]["seconds"], rows["tiled"]["peak_rss_mib"])


def test_training_bench(tmp_path, run_bench):
    run_bench(
        "training", tmp_path, "--device", "cpu", "--steps", "6",
        "--models-dir", str(REPO_ROOT / "var" / "bench-models" / "cpu"),
    )  # fmt: skip
    results = load(tmp_path, "training-cpu")
    figures = results["figures"]
    assert positive(figures["steps_per_s"], figures["peak_memory_mib"], figures["lora_bytes"])
    assert len(results["loss_history"]) == 6 and results["settings"]["rank"] == 4


def test_throughput_bench(tmp_path, run_bench, empty_queues):
    # The first and the last mode: the serial worker and everything on (the two between
    # only switch features on one by one through the same code).
    db = f"illu_bench_smoke_{uuid.uuid4().hex[:8]}"
    run_bench(
        "throughput", tmp_path, "--users", "2", "--jobs-per-user", "1", "--heavy-jobs", "3",
        "--steps", "1", "--modes", "serial,affinity", "--db-name", db,
    )  # fmt: skip
    results = load(tmp_path, "throughput")
    assert [mode["name"] for mode in results["modes"]] == ["serial", "affinity"]
    for mode in results["modes"]:
        assert mode["succeeded"] == mode["jobs"] == 4
        assert positive(mode["images_per_hour"], mode["gpu_busy_share"])
        assert mode["light_wait_p95_s"] >= 0  # 0 when fair share puts it in the first pass
    assert results["modes"][0]["images_per_hour_ratio"] == 1.0
    # Batching really batched: fewer passes than jobs once it is on.
    assert results["modes"][0]["passes"] == 4 and results["modes"][1]["passes"] < 4
