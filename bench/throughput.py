"""GPU-worker throughput under a mixed, multi-user load: what pipelined storage, cross-job
batching and LoRA affinity buy, and what fair share does for a light user's wait.

    python -m bench.throughput [--users 8] [--jobs-per-user 3] [--heavy-jobs 24]

One stack (database, Redis, S3, uvicorn). For each mode the same workload is POSTed through
the API while no worker runs, then one real ``manage.py gpu_worker --burst`` serves it to the
end with that mode's settings:

- ``serial``: today's worker: one job per pass, storage inline, plain FIFO order
  (ILLU_MAX_BATCH=1, ILLU_STORAGE_QUEUE=0, ILLU_FAIR_SHARE=false, no affinity);
- ``pipelined``: + the background storage stage (ILLU_STORAGE_QUEUE=2);
- ``batched``: + cross-job batching (ILLU_MAX_BATCH, default 4) and fair share;
- ``affinity``: + LoRA affinity (ILLU_LORA_AFFINITY_MAX_PASS=2).

Workload: user 0 is heavy (``--heavy-jobs`` jobs, POSTed first), users 1..N-1 are light
(``--jobs-per-user`` each, POSTed after). Jobs mix two styles (prompt templates) and two
LoRA sets, all at one size. Figures per mode, from the server's timestamps:
images/hour = images / (last finished_at - first started_at); gpu_busy_share = the sum of
the engine's denoise time over distinct passes (jobs of one pass share started_at) / that
wall time; light_wait_p95_s = p95 of a light user's started_at - the first started_at (all
jobs are queued before the worker starts, so a wait counts from when serving began).
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    sys.exit("run it as a module from the repository root: python -m bench.throughput")

import argparse  # noqa: E402
import time  # noqa: E402
from datetime import datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402

from .common import (  # noqa: E402
    add_output_argument,
    machine,
    new_figure,
    percentile,
    print_table,
    save_figure,
    write_results_and_figure,
)
from .launch import run_python  # noqa: E402
from .stack import Stack  # noqa: E402

FINISHED = {"succeeded", "failed", "cancelled"}
STYLES = ("comic", "watercolor")  # curated presets: their own template and negative prompt
SUBJECTS = ("a lighthouse", "a fox", "a castle", "a harbour", "a forest", "a train")
MODES = (
    ("serial", {"ILLU_MAX_BATCH": "1", "ILLU_STORAGE_QUEUE": "0", "ILLU_FAIR_SHARE": "false",
                "ILLU_LORA_AFFINITY_MAX_PASS": "0"}),
    ("pipelined", {"ILLU_MAX_BATCH": "1", "ILLU_STORAGE_QUEUE": "2", "ILLU_FAIR_SHARE": "false",
                   "ILLU_LORA_AFFINITY_MAX_PASS": "0"}),
    ("batched", {"ILLU_STORAGE_QUEUE": "2", "ILLU_FAIR_SHARE": "true",
                 "ILLU_LORA_AFFINITY_MAX_PASS": "0"}),
    ("affinity", {"ILLU_STORAGE_QUEUE": "2", "ILLU_FAIR_SHARE": "true",
                  "ILLU_LORA_AFFINITY_MAX_PASS": "2"}),
)  # fmt: skip


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=8, help="simulated users (user 0 heavy)")
    parser.add_argument("--jobs-per-user", type=int, default=3, help="jobs of each light user")
    parser.add_argument("--heavy-jobs", type=int, default=24, help="jobs of the heavy user")
    parser.add_argument("--size", type=int, default=256, help="image side, px")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--max-batch", type=int, default=4, help="ILLU_MAX_BATCH when batching")
    parser.add_argument(
        "--model", default="", help="ILLU_SDXL_MODEL for the worker (default: the demo model)"
    )
    parser.add_argument("--no-loras", action="store_true", help="no LoRA sets (full-size runs)")
    parser.add_argument("--modes", default=",".join(name for name, _ in MODES))
    parser.add_argument("--db-name", default="illu_bench_throughput")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per mode")
    add_output_argument(parser)
    return parser.parse_args(argv)


def register_loras(base_url: str, staff: str, demo: dict) -> list[list[dict]]:
    """Two LoRA sets from the demo models' LoRA files, registered through the API."""
    headers = {"Authorization": f"Token {staff}"}
    for slug, key in (("bench-ink", "lora_a"), ("bench-wash", "lora_b")):
        with open(demo[key], "rb") as handle:
            response = httpx.post(
                f"{base_url}/api/v1/loras/",
                data={"slug": slug, "name": slug, "type": "style"},
                files={"file": (f"{slug}.safetensors", handle, "application/octet-stream")},
                headers=headers,
                timeout=120,
            )
        if response.status_code != 201:
            raise RuntimeError(f"registering {slug}: {response.status_code} {response.text}")
    return [[{"lora": "bench-ink", "weight": 0.8}], [{"lora": "bench-wash", "weight": 1.0}]]


def workload(args, tokens: list[str], lora_sets: list[list[dict]]) -> list[tuple[int, dict]]:
    """(user index, body) in POST order: the heavy user's jobs, then the light users'."""

    def body(user: int, number: int) -> dict:
        job = {
            "kind": "text",
            "prompt": SUBJECTS[number % len(SUBJECTS)],
            "style": STYLES[(user + number) % 2],
            "width": args.size,
            "height": args.size,
            # Explicit, so both styles share a pass (a preset's own steps would split them).
            "steps": args.steps,
            "scheduler": "euler",
            "guidance_scale": 5.0,
            "seed": 1000 * user + number,
        }
        if lora_sets:
            # The heavy user alternates sets; each light user keeps one.
            job["loras"] = lora_sets[(number if user == 0 else user) % 2]
        return job

    jobs = [(0, body(0, n)) for n in range(args.heavy_jobs)]
    for number in range(args.jobs_per_user):
        jobs += [(user, body(user, number)) for user in range(1, len(tokens))]
    return jobs


def run_mode(stack: Stack, args, name: str, env: dict, tokens, jobs) -> dict:
    stack.empty_queues()
    ids = []
    with httpx.Client(base_url=stack.base_url, timeout=60) as client:
        for user, body in jobs:
            response = client.post(
                "/api/v1/jobs/", json=body, headers={"Authorization": f"Token {tokens[user]}"}
            )
            if response.status_code != 201:
                raise RuntimeError(f"POST failed: {response.status_code} {response.text}")
            ids.append((user, response.json()["id"]))
        extra = {"ILLU_MAX_BATCH": str(args.max_batch), **env}
        if args.model:
            extra["ILLU_SDXL_MODEL"] = args.model
        started = time.perf_counter()
        code, output = run_python(
            ["manage.py", "gpu_worker", "--burst", "--name", f"bench-{name}"],
            env={**stack.env, **extra},
            log_path=stack.work_dir / f"worker-{name}.log",
            timeout=args.timeout,
        )
        if code != 0:
            raise RuntimeError(f"{name}: worker failed:\n{output[-4000:]}")
        ready = next(
            (line for line in output.splitlines() if line.startswith("gpu_worker ready")), ""
        )
        results = []
        for user, job_id in ids:
            job = client.get(
                f"/api/v1/jobs/{job_id}/", headers={"Authorization": f"Token {tokens[user]}"}
            ).json()
            results.append((user, job))
    figures = mode_figures(name, results)
    figures["worker_ready"] = ready
    figures["worker_process_s"] = round(time.perf_counter() - started, 2)
    return figures


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def mode_figures(name: str, results: list[tuple[int, dict]]) -> dict:
    done = [(user, job) for user, job in results if job["status"] == "succeeded"]
    if not done:
        raise RuntimeError(f"{name}: no job succeeded: {results[0][1].get('error')}")
    first_started = min(_time(job["started_at"]) for _, job in done)
    last_finished = max(_time(job["finished_at"]) for _, job in done)
    wall_s = (last_finished - first_started).total_seconds()
    passes: dict[str, int] = {}
    for _, job in done:
        key = job["started_at"]
        passes[key] = max(passes.get(key, 0), job["timings"]["inference_ms"])
    images = sum(len(job["images"]) for _, job in done)
    # Every job was queued before the worker started: a wait counts from when it began serving.
    waits = {
        kind: [
            (
                _time(job["started_at"]) - max(_time(job["created_at"]), first_started)
            ).total_seconds()
            for user, job in done
            if (user == 0) == (kind == "heavy")
        ]
        for kind in ("heavy", "light")
    }
    sizes = [job["timings"].get("batch_size", 1) for _, job in done]
    return {
        "name": name,
        "images_per_hour": images / wall_s * 3600,
        "gpu_busy_share": sum(passes.values()) / 1000 / wall_s,
        "light_wait_p95_s": percentile(waits["light"], 95) if waits["light"] else None,
        "heavy_wait_p95_s": percentile(waits["heavy"], 95) if waits["heavy"] else None,
        "jobs": len(results),
        "succeeded": len(done),
        "images": images,
        "wall_s": wall_s,
        "passes": len(passes),
        "mean_batch_size": sum(sizes) / len(sizes),
        # How fast the engine itself ran in this mode: on a shared machine it varies
        # between modes, which the ratios then carry along.
        "denoise_ms_per_image": sum(passes.values()) / images,
        "store_ms_median": percentile([job["timings"]["store_ms"] for _, job in done], 50),
    }


def plot(results: dict, out_dir: Path) -> Path:
    modes = results["modes"]
    names = [mode["name"] for mode in modes]
    fig, (rate, busy, wait) = new_figure(width=12, height=4.2, ncols=3)
    rate.bar(names, [mode["images_per_hour"] for mode in modes], color="#4c72b0")
    rate.set_title("images/hour")
    for index, mode in enumerate(modes):
        rate.annotate(f"x{mode['images_per_hour_ratio']:.2f}", (index, mode["images_per_hour"]),
                      ha="center", va="bottom")  # fmt: skip
    busy.bar(names, [mode["gpu_busy_share"] * 100 for mode in modes], color="#55a868")
    busy.set_title("engine-busy share of wall time (%)")
    busy.set_ylim(0, 100)
    wait.bar(names, [mode["light_wait_p95_s"] or 0 for mode in modes], color="#c44e52")
    wait.set_title("p95 wait of a light user's job (s)")
    config = results["config"]
    fig.suptitle(
        f"{config['users']} users ({config['heavy_jobs']} heavy jobs first), "
        f"{config['size']}px, {config['steps']} steps, {results['model']}"
    )
    return save_figure(fig, out_dir, "throughput")


def main(argv=None) -> dict:
    args = parse_args(argv)
    wanted = args.modes.split(",")
    modes = [(name, env) for name, env in MODES if name in wanted]
    with Stack(db_name=args.db_name) as stack:
        stack.start_services()
        users = {f"bench-user-{user}": False for user in range(args.users)}
        prepared = stack.prepare({**users, "bench-staff": True}, demo_models=not args.no_loras)
        stack.start_web()
        tokens = [prepared["tokens"][name] for name in users]
        lora_sets = (
            []
            if args.no_loras
            else register_loras(
                stack.base_url, prepared["tokens"]["bench-staff"], prepared["demo_models"]
            )
        )
        jobs = workload(args, tokens, lora_sets)
        figures = []
        for name, env in modes:
            print(f"mode {name}: {len(jobs)} jobs ...", flush=True)
            figures.append(run_mode(stack, args, name, env, tokens, jobs))
        services = dict(stack.description)
    base = figures[0]
    for mode in figures:
        mode["images_per_hour_ratio"] = mode["images_per_hour"] / base["images_per_hour"]
        mode["gpu_busy_share_ratio"] = mode["gpu_busy_share"] / base["gpu_busy_share"]
    results = {
        "benchmark": "throughput",
        "command": "python -m bench.throughput " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "services": services,
        "model": args.model or "demo:tiny-sdxl",
        "config": {k: v for k, v in vars(args).items() if k != "out"} | {"out": str(args.out)},
        "modes": figures,
        "definitions": {
            "images_per_hour": "images / (last finished_at - first started_at) * 3600",
            "gpu_busy_share": "sum over distinct passes (shared started_at) of the engine's "
            "inference_ms / the same wall time",
            "light_wait_p95_s": "p95 over the light users' jobs of started_at - the mode's "
            "first started_at (all jobs were queued before the worker started)",
            "ratios": "to the first mode (serial)",
        },
    }
    rows = [
        (m["name"], m["images_per_hour"], m["images_per_hour_ratio"], m["gpu_busy_share"],
         m["mean_batch_size"], m["light_wait_p95_s"], m["heavy_wait_p95_s"], m["succeeded"])
        for m in figures
    ]  # fmt: skip
    print_table(
        ["mode", "images/h", "x serial", "busy share", "batch", "light p95 s", "heavy p95 s",
         "jobs"], rows,
    )  # fmt: skip
    write_results_and_figure(args.out, "throughput", results, plot)
    return results


if __name__ == "__main__":
    main()
