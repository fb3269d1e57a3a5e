"""A fleet of GPU workers serving several checkpoints: what checkpoint-aware routing buys over
FIFO routing, and what a model switch costs from each residency tier.

    python -m bench.fleet [--users 8] [--jobs-per-user 12] [--workers 3]

One stack (PostgreSQL, Redis, S3, uvicorn) and three registered demo checkpoints (variants of
the tiny SDXL: shared text encoders and VAE, each its own UNet), ``ink`` the most used,
``watercolor`` the rarest. For each routing mode the same mixed workload (every user's jobs
mix the three models) is POSTed through the API while ``--workers`` real ``manage.py gpu_worker``
processes start under RQ's suspension; once all are ready the suspension is lifted, so they
start serving together on a full queue and serve it to the end, each keeping one model
resident (ILLU_MAX_RESIDENT_MODELS=1: a switch is a load, as on a 24 GB card full of SDXL):

- ``fifo``: ILLU_ROUTING=fifo: every worker takes the next job in fair order;
- ``checkpoint``: ILLU_ROUTING=checkpoint: a worker prefers jobs for the model it holds.

Figures per mode, from the server's rows: images/hour = images / (last finished_at - first
started_at); model switches = jobs whose ``timings.model_load_ms`` > 0 (the model was not
resident); rare_wait_p95_s = p95 over the rarest model's jobs of started_at - the first
started_at. Then, in this process, the time a job waits for its model on the demo model:
from disk, from host memory (the host tier; on a CPU that is the same memory, so only the
bookkeeping shows) and already resident.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    sys.exit("run it as a module from the repository root: python -m bench.fleet")

import argparse  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
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
from .launch import start_python  # noqa: E402
from .stack import Stack  # noqa: E402

MODELS = ("fleet-ink", "fleet-photo", "fleet-watercolor")  # most used first, rarest last
SUBJECTS = ("a lighthouse", "a fox", "a castle", "a harbour", "a forest", "a train")
MODES = ("fifo", "checkpoint")
REGISTER = """
from catalog.models import BaseModel
from gpu_worker.job_models import demo_variant
for slug in {slugs!r}:
    demo_variant(slug)  # built once here, not raced by the workers
    BaseModel.objects.update_or_create(
        slug=slug, defaults={{"name": slug, "family": "sdxl", "source": "demo:" + slug}})
"""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--jobs-per-user", type=int, default=12)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--size", type=int, default=256, help="image side, px")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--max-batch", type=int, default=1, help="ILLU_MAX_BATCH")
    parser.add_argument("--switch-repeats", type=int, default=5)
    parser.add_argument("--db-name", default="illu_bench_fleet")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per mode")
    add_output_argument(parser)
    return parser.parse_args(argv)


def model_of(user: int, number: int) -> str:
    """About half the jobs for ink, a third for photo, a sixth for watercolor, mixed."""
    slot = (user * 7 + number * 5) % 12
    return MODELS[0] if slot < 6 else MODELS[1] if slot < 10 else MODELS[2]


def workload(args, tokens: list[str]) -> list[tuple[int, dict]]:
    """(user index, body) in POST order: the users take turns, one job each per round."""
    jobs = []
    for number in range(args.jobs_per_user):
        for user in range(len(tokens)):
            jobs.append(
                (
                    user,
                    {
                        "kind": "text",
                        "prompt": SUBJECTS[(user + number) % len(SUBJECTS)],
                        "model": model_of(user, number),
                        "width": args.size,
                        "height": args.size,
                        "steps": args.steps,
                        "scheduler": "euler",
                        "guidance_scale": 5.0,
                        "seed": 1000 * user + number,
                    },
                )
            )
    return jobs


def run_mode(stack: Stack, args, mode: str, tokens, jobs) -> dict:
    """Start the workers with RQ's suspension set (each loads its model and waits), POST the
    workload, then lift the suspension: every worker starts serving within RQ's one-second
    suspension check of the others, on a full queue."""
    from redis import Redis
    from rq.suspension import resume, suspend

    stack.empty_queues()
    redis = Redis.from_url(stack.env["REDIS_URL"])
    env = {
        **stack.env,
        "ILLU_ROUTING": mode,
        "ILLU_MAX_RESIDENT_MODELS": "1",
        "ILLU_MAX_BATCH": str(args.max_batch),
        "ILLU_WARMUP_ON_START": "false",
        "ILLU_HEARTBEAT_INTERVAL": "1",
        "OMP_NUM_THREADS": "1",
    }
    logs = [stack.work_dir / f"worker-{mode}-{n}.log" for n in range(args.workers)]
    suspend(redis)
    workers = [
        start_python(
            ["manage.py", "gpu_worker", "--name", f"bench-{mode}-{n}"], env=env, log_path=log
        )
        for n, log in enumerate(logs)
    ]
    try:
        ids = []
        with httpx.Client(base_url=stack.base_url, timeout=60) as client:
            for user, body in jobs:
                auth = {"Authorization": f"Token {tokens[user]}"}
                response = client.post("/api/v1/jobs/", json=body, headers=auth)
                if response.status_code != 201:
                    raise RuntimeError(f"POST failed: {response.status_code} {response.text}")
                ids.append((user, response.json()["id"]))
            _wait(lambda: all("gpu_worker ready" in log.read_text() for log in logs), args)
            resume(redis)
            started = time.perf_counter()
            _wait(lambda: _unfinished(client, tokens) == 0, args)
            results = [
                client.get(
                    f"/api/v1/jobs/{job_id}/", headers={"Authorization": f"Token {tokens[user]}"}
                ).json()
                for user, job_id in ids
            ]
    finally:
        resume(redis)
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:  # an idle worker that missed the signal
                worker.kill()
                worker.wait(timeout=30)
    figures = mode_figures(mode, results)
    figures["workers_process_s"] = round(time.perf_counter() - started, 2)
    return figures


def _wait(condition, args) -> None:
    deadline = time.monotonic() + args.timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not done within {args.timeout} s")
        time.sleep(1)


def _unfinished(client: httpx.Client, tokens: list[str]) -> int:
    """Jobs still queued or running, over every user (one count request per user and
    status)."""
    total = 0
    for token in tokens:
        for status in ("queued", "running"):
            response = client.get(
                "/api/v1/jobs/",
                params={"status": status},
                headers={"Authorization": f"Token {token}"},
            )
            total += response.json()["count"]
    return total


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def mode_figures(mode: str, results: list[dict]) -> dict:
    done = [job for job in results if job["status"] == "succeeded"]
    if not done:
        raise RuntimeError(f"{mode}: no job succeeded: {results[0].get('error')}")
    first_started = min(_time(job["started_at"]) for job in done)
    last_finished = max(_time(job["finished_at"]) for job in done)
    wall_s = (last_finished - first_started).total_seconds()
    images = sum(len(job["images"]) for job in done)
    switches = [job for job in done if job["timings"].get("model_load_ms", 0) > 0]
    rare = [
        (_time(job["started_at"]) - first_started).total_seconds()
        for job in done
        if job["params"]["model"] == MODELS[-1]
    ]
    per_worker: dict[str, dict[str, int]] = {}
    for job in done:
        counts = per_worker.setdefault(job["worker"], {})
        counts[job["params"]["model"]] = counts.get(job["params"]["model"], 0) + 1
    return {
        "name": mode,
        "images_per_hour": images / wall_s * 3600,
        "model_switches": len(switches),
        "model_load_ms_total": sum(job["timings"]["model_load_ms"] for job in switches),
        # What routing weighs (generation/queue/costs.py): a switch against a job's engine time.
        "model_load_ms_mean": _mean(job["timings"]["model_load_ms"] for job in switches),
        "inference_ms_mean": _mean(job["timings"].get("inference_ms", 0) for job in done),
        "rare_wait_p95_s": percentile(rare, 95) if rare else None,
        "jobs": len(results),
        "succeeded": len(done),
        "images": images,
        "wall_s": wall_s,
        "jobs_per_worker_and_model": per_worker,
    }


def _mean(values) -> float | None:
    values = list(values)
    return round(sum(values) / len(values), 1) if values else None


def switch_times(demo_sdxl: str, repeats: int) -> dict[str, float]:
    """Median ms a job waits for its model on the demo model, per tier: from disk, from host
    memory, resident (an engine in this process, two checkpoints, one resident at a time)."""
    import torch

    from gpu_worker.engine.config import EngineConfig
    from gpu_worker.engine.devices import select_device
    from gpu_worker.engine.loading import PipelineCache
    from gpu_worker.engine.tiny_variants import build_tiny_variant

    torch.set_num_threads(1)
    times: dict[str, list[int]] = {"disk": [], "host": [], "resident": []}
    with tempfile.TemporaryDirectory() as tmp:
        other = str(build_tiny_variant(Path(demo_sdxl), Path(tmp) / "other", seed=7))
        profile = select_device()
        for _ in range(repeats):
            # From disk: a fresh cache each time (no host tier to come back from).
            cold = PipelineCache(profile, EngineConfig(max_resident_models=1, host_cache_bytes=0))
            times["disk"].append(cold.fetch(demo_sdxl)[1].ms)
        cache = PipelineCache(
            profile, EngineConfig(max_resident_models=1, host_cache_bytes=1 << 36)
        )
        cache.fetch(demo_sdxl)
        for _ in range(repeats):
            cache.fetch(other)  # pushes the demo model to host memory
            _, load = cache.fetch(demo_sdxl)
            assert load.tier == "host", load
            times["host"].append(load.ms)
            _, load = cache.fetch(demo_sdxl)
            times["resident"].append(load.ms)
    return {tier: percentile(values, 50) for tier, values in times.items()}


def plot(results: dict, out_dir: Path) -> Path:
    modes = results["modes"]
    names = [mode["name"] for mode in modes]
    fig, (rate, switches, wait, tiers) = new_figure(width=15, height=4.2, ncols=4)
    rate.bar(names, [mode["images_per_hour"] for mode in modes], color="#4c72b0")
    rate.set_title("images/hour")
    for index, mode in enumerate(modes):
        rate.annotate(f"x{mode['images_per_hour_ratio']:.2f}", (index, mode["images_per_hour"]),
                      ha="center", va="bottom")  # fmt: skip
    switches.bar(names, [mode["model_switches"] for mode in modes], color="#c44e52")
    switches.set_title("model switches (loads)")
    wait.bar(names, [mode["rare_wait_p95_s"] or 0 for mode in modes], color="#8172b2")
    wait.set_title("p95 wait, rarest model's jobs (s)")
    switch = results["switch_ms"]
    tiers.bar(list(switch), list(switch.values()), color="#55a868")
    tiers.set_title("model switch on the demo model (ms)")
    config = results["config"]
    fig.suptitle(
        f"{config['workers']} workers (1 resident model each), {len(MODELS)} checkpoints, "
        f"{config['users']} users x {config['jobs_per_user']} jobs, {config['size']}px, "
        f"{config['steps']} steps"
    )
    return save_figure(fig, out_dir, "fleet")


def main(argv=None) -> dict:
    args = parse_args(argv)
    with Stack(db_name=args.db_name) as stack:
        stack.start_services()
        users = {f"bench-user-{user}": False for user in range(args.users)}
        prepared = stack.prepare(users, demo_models=True)
        stack.manage("shell", "-c", REGISTER.format(slugs=list(MODELS)))
        stack.start_web()
        tokens = [prepared["tokens"][name] for name in users]
        jobs = workload(args, tokens)
        figures = []
        for mode in MODES:
            print(f"mode {mode}: {len(jobs)} jobs on {args.workers} workers ...", flush=True)
            figures.append(run_mode(stack, args, mode, tokens, jobs))
        services = dict(stack.description)
        demo_sdxl = prepared["demo_models"]["sdxl"]
    print("model switch times ...", flush=True)
    switch_ms = switch_times(demo_sdxl, args.switch_repeats)
    base = figures[0]
    for mode in figures:
        mode["images_per_hour_ratio"] = mode["images_per_hour"] / base["images_per_hour"]
        mode["switches_ratio"] = base["model_switches"] / max(1, mode["model_switches"])
        if base["rare_wait_p95_s"] and mode["rare_wait_p95_s"] is not None:
            mode["rare_wait_p95_ratio"] = mode["rare_wait_p95_s"] / base["rare_wait_p95_s"]
    results = {
        "benchmark": "fleet",
        "command": "python -m bench.fleet " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "services": services,
        "config": {k: v for k, v in vars(args).items() if k != "out"} | {"out": str(args.out)},
        "modes": figures,
        "switch_ms": switch_ms,
        "definitions": {
            "images_per_hour": "images / (last finished_at - first started_at) * 3600",
            "model_switches": "jobs whose timings.model_load_ms > 0 (model not resident)",
            "model_load_ms_mean": "mean timings.model_load_ms over the switches, in the workers",
            "inference_ms_mean": "mean timings.inference_ms (engine time) over the jobs",
            "rare_wait_p95_s": f"p95 over {MODELS[-1]}'s jobs of started_at - the mode's "
            "first started_at (all jobs were queued before the workers started serving)",
            "ratios": "images/hour and wait: mode / fifo; switches: fifo / mode (x fewer)",
            "switch_ms": "median ms a job waits for its model: from disk, from host memory, "
            "resident (demo model, this machine's device)",
        },
    }
    rows = [
        (m["name"], m["images_per_hour"], m["images_per_hour_ratio"], m["model_switches"],
         m["switches_ratio"], m["rare_wait_p95_s"], m["succeeded"])
        for m in figures
    ]  # fmt: skip
    print_table(
        ["routing", "images/h", "x fifo", "switches", "x fewer", "rare p95 s", "jobs"], rows
    )
    print_table(["tier", "median ms"], list(switch_ms.items()))
    write_results_and_figure(args.out, "fleet", results, plot)
    return results


if __name__ == "__main__":
    main()
