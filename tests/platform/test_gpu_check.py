"""bench/gpu_check.sh --dry-run: the GPU check's own script, end to end on the CPU with the tiny
models, in the environment of a GPU host (no Django, OpenCV, MediaPipe, insightface,
onnxruntime or dlib importable), so it is known to run before it ever meets a GPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.gpu_check import SECTIONS

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # a process of its own that imports torch and diffusers
def test_the_gpu_check_dry_run_writes_every_section_s_json_in_at_most_8_files(
    tmp_path, tiny_models
):
    out = tmp_path / "gpu"
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "OUT": str(out),
        "OMP_NUM_THREADS": "1",
        "GPU_CHECK_TINY_SDXL": str(tiny_models["sdxl"]),  # built already: not again
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run = subprocess.run(
        ["bash", "bench/gpu_check.sh", "--dry-run"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]

    files = sorted(path.name for path in out.iterdir())
    assert files == sorted([*(f"{name}.json" for name in SECTIONS), "gpu_check.log"])
    assert len(files) <= 8  # what comes back from a GPU host
    results = {name: json.loads((out / f"{name}.json").read_text()) for name in SECTIONS}
    for name, data in results.items():
        assert data["section"] == name and data["ok"] is True and data["dry_run"] is True, data

    speed = results["speed"]
    measured = {(row["dtype"], row["batch"]) for row in speed["rows"] if row["s_per_image"] > 0}
    assert measured == {("float16", 1), ("float16", 2), ("bfloat16", 1), ("bfloat16", 2)}
    assert speed["vae_decode"]["fp32_upcast_s"] > 0 and speed["best"]["images_per_hour"] > 0
    assert results["attachments"]["rows"]["union_controlnet"]["s_per_image"] > 0
    assert results["attachments"]["rows"]["ip_adapter"]["s_per_image"] > 0
    assert results["upscale"]["target"] == 4 * results["upscale"]["source"]
    assert results["training"]["steps"] == 2
    assert results["fp8"] == {**results["fp8"], "available": False}
    assert "not a CUDA GPU" in results["fp8"]["reason"]
    compiled = results["compiled"]
    assert compiled["lora_switch"]["lora_1"]["first_job_s"] > 0
    assert compiled["available"] is True or compiled["reason"].startswith("not available")
    assert "all sections ran" in (out / "gpu_check.log").read_text()
