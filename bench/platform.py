"""Platform overhead and throughput: API -> Postgres/SQLite -> Redis -> worker -> S3 -> API.

Run from the repository root (``bench/platform.py`` would shadow the stdlib ``platform``):

    python -m bench.platform [--jobs 200] [--serial 20]

Starts uvicorn and a real ``manage.py gpu_worker`` with the tiny demo model, creates a user
with a token, then:

1. serial: one job at a time, POSTed, then its GET polled every 20 ms. End-to-end overhead =
   client-side time from POST to seeing ``succeeded`` minus the engine's own time
   (``timings.load_ms + timings.inference_ms``): API, row, enqueue, worker pickup, PNG encode,
   upload, commit, and the polling granularity (10 ms on average, part of the figure).
2. batch: ``--jobs`` jobs POSTed by ``--clients`` concurrent clients, then awaited. Worker
   overhead per job = ``total_ms - queue_ms - load_ms - inference_ms`` (what the worker does
   around the engine: claim the row, load it, encode and upload the PNGs, commit). Throughput
   = jobs / (last ``finished_at`` - first ``created_at``), from the server's clock.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    sys.exit("run it as a module from the repository root: python -m bench.platform")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime  # noqa: E402

import httpx  # noqa: E402

from .common import (  # noqa: E402
    add_output_argument,
    machine,
    new_figure,
    print_table,
    save_figure,
    summarize,
    write_results,
)
from .stack import Stack  # noqa: E402

FINISHED = {"succeeded", "failed", "cancelled"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs in the throughput batch")
    parser.add_argument("--serial", type=int, default=20, help="jobs run one at a time")
    parser.add_argument("--clients", type=int, default=8, help="concurrent POSTing clients")
    parser.add_argument("--size", type=int, default=256, help="image side, px")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--db-name", default="illu_bench", help="scratch Postgres database")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for the batch")
    add_output_argument(parser)
    return parser.parse_args(argv)


def job_body(args) -> dict:
    return {
        "kind": "text",
        "prompt": "a lighthouse at dusk",
        "width": args.size,
        "height": args.size,
        "steps": args.steps,
    }


def engine_ms(job: dict) -> int:
    timings = job.get("timings") or {}
    return int(timings.get("load_ms", 0)) + int(timings.get("inference_ms", 0))


def run_serial(client: httpx.Client, body: dict, count: int) -> list[dict]:
    """One job at a time, polled every 20 ms: light enough not to slow the worker on a small
    machine, and independent of how the server implements ``Prefer: wait``."""
    runs = []
    for _ in range(count):
        started = time.perf_counter()
        job = client.post("/api/v1/jobs/", json=body).raise_for_status().json()
        post_ms = (time.perf_counter() - started) * 1000
        while job["status"] not in FINISHED:
            time.sleep(0.02)
            job = client.get(f"/api/v1/jobs/{job['id']}/").raise_for_status().json()
        e2e_ms = (time.perf_counter() - started) * 1000
        # What reading a finished job costs (images: presigned URLs), apart from the wait.
        read_started = time.perf_counter()
        client.get(f"/api/v1/jobs/{job['id']}/").raise_for_status()
        get_finished_ms = (time.perf_counter() - read_started) * 1000
        runs.append(
            {
                "job": job,
                "e2e_ms": e2e_ms,
                "overhead_ms": e2e_ms - engine_ms(job),
                "post_ms": post_ms,
                "get_finished_ms": get_finished_ms,
            }
        )
    return runs


async def run_batch(base_url: str, token: str, body: dict, jobs: int, clients: int, timeout):
    headers = {"Authorization": f"Token {token}"}
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=60
    ) as client:
        ids: list[str | None] = [None] * jobs
        counter = iter(range(jobs))

        async def poster() -> None:
            for index in counter:
                response = await client.post("/api/v1/jobs/", json=body)
                ids[index] = response.raise_for_status().json()["id"]

        started = time.perf_counter()
        await asyncio.gather(*(poster() for _ in range(clients)))
        posted_s = time.perf_counter() - started
        # One worker serves the queue in order, so waiting for each job in turn polls little.
        finished = []
        deadline = time.monotonic() + timeout
        for job_id in ids:
            while True:
                job = (await client.get(f"/api/v1/jobs/{job_id}/")).raise_for_status().json()
                if job["status"] in FINISHED:
                    finished.append(job)
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"job {job_id} still {job['status']} after {timeout} s")
                await asyncio.sleep(0.1)
        return finished, posted_s, time.perf_counter() - started


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def batch_figures(jobs: list[dict], posted_s: float, wall_s: float) -> dict:
    done = [job for job in jobs if job["status"] == "succeeded"]
    if not done:
        raise RuntimeError(f"no job succeeded: {[job.get('error') for job in jobs[:3]]}")
    first_created = min(_time(job["created_at"]) for job in done)
    first_started = min(_time(job["started_at"]) for job in done)
    last_finished = max(_time(job["finished_at"]) for job in done)
    timings = [job["timings"] for job in done]
    return {
        "jobs": len(jobs),
        "succeeded": len(done),
        "failed": [job.get("error") for job in jobs if job["status"] != "succeeded"][:10],
        "jobs_per_s": len(done) / (last_finished - first_created).total_seconds(),
        "worker_jobs_per_s": len(done) / (last_finished - first_started).total_seconds(),
        "post_s": posted_s,
        "wall_s": wall_s,
        "worker_overhead_ms": summarize(
            [t["total_ms"] - t["queue_ms"] - t["load_ms"] - t["inference_ms"] for t in timings]
        ),
        "store_ms": summarize([t["store_ms"] for t in timings]),
        "inference_ms": summarize([t["inference_ms"] for t in timings]),
        "queue_ms": summarize([t["queue_ms"] for t in timings]),
    }


def serial_figures(runs: list[dict]) -> dict:
    done = [run for run in runs if run["job"]["status"] == "succeeded"]
    if not done:
        raise RuntimeError(f"no serial job succeeded: {runs[0]['job'].get('error')}")
    return {
        "jobs": len(runs),
        "succeeded": len(done),
        "e2e_ms": summarize([run["e2e_ms"] for run in done]),
        "post_ms": summarize([run["post_ms"] for run in done]),
        "get_finished_ms": summarize([run["get_finished_ms"] for run in done]),
        "e2e_overhead_ms": summarize([run["overhead_ms"] for run in done]),
        "inference_ms": summarize([run["job"]["timings"]["inference_ms"] for run in done]),
        "queue_ms": summarize([run["job"]["timings"]["queue_ms"] for run in done]),
        "worker_ms": summarize(
            [run["job"]["timings"]["total_ms"] - run["job"]["timings"]["queue_ms"] for run in done]
        ),
    }


def plot(results: dict, batch_overheads: list[float], serial_overheads: list[float], out_dir):
    fig, (left, right) = new_figure(11, 4.2, ncols=2)
    left.hist(serial_overheads, bins=30, color="#4C72B0")
    left.set_title("End-to-end overhead, serial jobs (ms)")
    left.set_xlabel("POST -> seen succeeded, minus engine time (ms)")
    right.hist(batch_overheads, bins=40, color="#DD8452")
    right.set_title(f"Worker overhead per job, batch of {results['batch']['jobs']} (ms)")
    right.set_xlabel("total - queue - load - inference (ms)")
    fig.suptitle(
        f"platform: {results['batch']['jobs_per_s']:.2f} jobs/s "
        f"({results['config']['size']}px, {results['config']['steps']} steps, tiny model)"
    )
    return save_figure(fig, out_dir, "platform")


def main(argv=None) -> dict:
    args = parse_args(argv)
    body = job_body(args)
    with Stack(db_name=args.db_name) as stack:
        stack.start_services()
        token = stack.prepare({"bench": False})["tokens"]["bench"]
        stack.start_web()
        ready = stack.start_worker(name=f"bench-{uuid.uuid4().hex[:8]}")
        print(ready)
        headers = {"Authorization": f"Token {token}"}
        with httpx.Client(base_url=stack.base_url, headers=headers, timeout=60) as client:
            run_serial(client, body, 2)  # warm both processes (lazy imports, connections)
            serial = run_serial(client, body, args.serial)
        jobs, posted_s, wall_s = asyncio.run(
            run_batch(stack.base_url, token, body, args.jobs, args.clients, args.timeout)
        )
        services = dict(stack.description)
    results = {
        "benchmark": "platform",
        "command": "python -m bench.platform " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "services": services,
        "worker_ready": ready,
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "serial": serial_figures(serial),
        "batch": batch_figures(jobs, posted_s, wall_s),
        "definitions": {
            "e2e_overhead_ms": "client: POST to seeing succeeded (20 ms polls) minus "
            "timings.load_ms + timings.inference_ms, one job at a time",
            "worker_overhead_ms": "timings.total_ms - queue_ms - load_ms - inference_ms",
            "jobs_per_s": "succeeded jobs / (last finished_at - first created_at)",
            "worker_jobs_per_s": "succeeded jobs / (last finished_at - first started_at)",
        },
    }
    report(results)
    path = write_results(args.out, "platform", results)
    batch_overheads = [
        job["timings"]["total_ms"]
        - job["timings"]["queue_ms"]
        - job["timings"]["load_ms"]
        - job["timings"]["inference_ms"]
        for job in jobs
        if job["status"] == "succeeded"
    ]
    figure = plot(results, batch_overheads, [run["overhead_ms"] for run in serial], args.out)
    print(f"\nwrote {path} and {figure}")
    return results


REPORT_ROWS = (  # (label, phase, key)
    ("e2e overhead", "serial", "e2e_overhead_ms"),
    ("e2e latency", "serial", "e2e_ms"),
    ("  POST /api/v1/jobs/", "serial", "post_ms"),
    ("  worker: started -> finished", "serial", "worker_ms"),
    ("  GET of the finished job", "serial", "get_finished_ms"),
    ("worker overhead", "batch", "worker_overhead_ms"),
    ("  of which store (PNG + S3)", "batch", "store_ms"),
    ("inference", "batch", "inference_ms"),
)


def report(results: dict) -> None:
    rows = [
        (label, phase, results[phase][key]["median"], results[phase][key]["p95"],
         results[phase]["succeeded"])
        for label, phase, key in REPORT_ROWS
    ]  # fmt: skip
    print_table(["figure (ms)", "phase", "median", "p95", "jobs"], rows)
    batch = results["batch"]
    print(
        f"\nthroughput: {batch['jobs_per_s']:.2f} jobs/s end to end, "
        f"{batch['worker_jobs_per_s']:.2f} jobs/s once the worker started "
        f"({batch['succeeded']}/{batch['jobs']} succeeded)"
    )


if __name__ == "__main__":
    main()
