"""API throughput and latency beside a bare Django view, measured in the same run.

    python -m bench.api [--clients 32] [--duration 10]

Starts uvicorn (one worker process unless ``--server-workers``) with ILLU_BENCH_BARE_VIEW=true and
drives it with ``--clients`` concurrent asyncio+httpx clients on loopback (keep-alive), each
endpoint in turn for ``--duration`` seconds or ``--requests`` requests after a short warm-up:

- ``POST /api/v1/jobs/`` (token auth, validation, parameter resolution, insert, enqueue) and
  ``GET /api/v1/jobs/{id}/`` of the jobs just created;
- ``POST /bench/bare/`` and ``GET /bench/bare/{id}/`` (bench/bare_view.py: parse the body,
  insert or select one row with raw SQL, return a small JSON).

The figure is the ratio of the API to the bare view: what the platform costs per request on
the same server, database and machine. No worker runs; the queues are emptied afterwards.
The client's CPU share is reported: near 100% of a core means the client, not the server, was
the limit.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    sys.exit("run it as a module from the repository root: python -m bench.api")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import itertools  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402

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
from .stack import Stack  # noqa: E402

JOB_BODY = {"kind": "text", "prompt": "a lighthouse at dusk", "width": 256, "height": 256}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10, help="seconds per endpoint")
    parser.add_argument("--requests", type=int, default=20000, help="at most, per endpoint")
    parser.add_argument("--warmup", type=float, default=1, help="unmeasured seconds first")
    parser.add_argument("--server-workers", type=int, default=1, help="uvicorn processes")
    parser.add_argument("--db-name", default="illu_bench_api", help="scratch Postgres database")
    add_output_argument(parser)
    return parser.parse_args(argv)


async def drive(client: httpx.AsyncClient, request, *, clients: int, seconds: float, limit: int):
    """Run ``request(client, i)`` from ``clients`` tasks until time or count is up."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    created: list[str] = []
    counter = itertools.count()
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        while time.perf_counter() < deadline:
            index = next(counter)
            if index >= limit:
                return
            started = time.perf_counter()
            try:
                response = await request(client, index)
            except httpx.HTTPError:
                statuses[0] += 1
                continue
            latencies.append(time.perf_counter() - started)
            statuses[response.status_code] += 1
            if response.status_code == 201:
                created.append(response.json()["id"])

    cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(clients)))
    wall = time.perf_counter() - started
    return latencies, statuses, created, wall, (time.process_time() - cpu) / wall


def figures(latencies, statuses, wall, client_cpu) -> dict:
    ok = sum(count for status, count in statuses.items() if 200 <= status < 300)
    return {
        "requests": sum(statuses.values()),
        "ok": ok,
        "errors": sum(statuses.values()) - ok,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "rps": ok / wall,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "mean_ms": sum(latencies) / len(latencies) * 1000,
        "seconds": wall,
        "client_cpu_share": client_cpu,
    }


async def run(base_url: str, token: str, args) -> dict:
    auth = {"Authorization": f"Token {token}"}
    ids: dict[str, list[str]] = {"api": [], "bare": []}

    def post(path: str, headers: dict):
        async def request(client, index):
            return await client.post(path, json=JOB_BODY, headers=headers)

        return request

    def get(template: str, kind: str, headers: dict):
        async def request(client, index):
            pool = ids[kind]
            if not pool:
                raise RuntimeError(f"no {kind} rows were created to read back")
            return await client.get(template.format(pool[index % len(pool)]), headers=headers)

        return request

    phases = [
        ("api_post", "POST /api/v1/jobs/", post("/api/v1/jobs/", auth), "api"),
        ("bare_post", "POST /bench/bare/", post("/bench/bare/", {}), "bare"),
        ("api_get", "GET /api/v1/jobs/{id}/", get("/api/v1/jobs/{}/", "api", auth), None),
        ("bare_get", "GET /bench/bare/{id}/", get("/bench/bare/{}/", "bare", {}), None),
    ]
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    results = {}
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        for key, label, request, keep in phases:
            for seconds, limit in ((args.warmup, args.requests), (args.duration, args.requests)):
                latencies, statuses, created, wall, cpu = await drive(
                    client, request, clients=args.clients, seconds=seconds, limit=limit
                )
                if keep:
                    ids[keep].extend(created)
            if not latencies:
                raise RuntimeError(f"{label}: no request completed ({dict(statuses)})")
            results[key] = {"endpoint": label, **figures(latencies, statuses, wall, cpu)}
    return results


def plot(results: dict, out_dir):
    endpoints = results["endpoints"]
    keys = ["api_post", "bare_post", "api_get", "bare_get"]
    labels = [endpoints[k]["endpoint"] for k in keys]
    colors = ["#4C72B0", "#A0A0A0", "#4C72B0", "#A0A0A0"]
    fig, (left, right) = new_figure(12, 4.5, ncols=2)
    left.barh(labels, [endpoints[k]["rps"] for k in keys], color=colors)
    left.invert_yaxis()
    left.set_xlabel("requests/s")
    left.set_title(
        f"throughput, {results['config']['clients']} clients (API/bare: POST "
        f"{results['ratios']['post_rps']:.2f}, GET {results['ratios']['get_rps']:.2f})"
    )
    positions = range(len(keys))
    right.bar(
        [p - 0.2 for p in positions], [endpoints[k]["p50_ms"] for k in keys], 0.4, label="p50"
    )
    right.bar(
        [p + 0.2 for p in positions], [endpoints[k]["p99_ms"] for k in keys], 0.4, label="p99"
    )
    right.set_xticks(list(positions), [label.replace(" /", "\n/") for label in labels], fontsize=8)
    right.set_ylabel("latency (ms)")
    right.legend()
    right.set_title("latency")
    return save_figure(fig, out_dir, "api")


def main(argv=None) -> dict:
    args = parse_args(argv)
    with Stack(db_name=args.db_name) as stack:
        stack.start_services()
        token = stack.prepare({"bench": False})["tokens"]["bench"]
        stack.start_web(extra_env={"ILLU_BENCH_BARE_VIEW": "true"}, workers=args.server_workers)
        endpoints = asyncio.run(run(stack.base_url, token, args))
        services = dict(stack.description)
    results = {
        "benchmark": "api",
        "command": "python -m bench.api " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "services": services,
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "endpoints": endpoints,
        "ratios": {
            "post_rps": endpoints["api_post"]["rps"] / endpoints["bare_post"]["rps"],
            "get_rps": endpoints["api_get"]["rps"] / endpoints["bare_get"]["rps"],
            "post_p50": endpoints["api_post"]["p50_ms"] / endpoints["bare_post"]["p50_ms"],
            "get_p50": endpoints["api_get"]["p50_ms"] / endpoints["bare_get"]["p50_ms"],
        },
    }
    print_table(
        ["endpoint", "req/s", "p50 ms", "p99 ms", "ok", "errors", "client cpu"],
        [
            (
                e["endpoint"],
                e["rps"],
                e["p50_ms"],
                e["p99_ms"],
                e["ok"],
                e["errors"],
                f"{e['client_cpu_share']:.0%}",
            )
            for e in endpoints.values()
        ],
    )
    ratios = results["ratios"]
    print(
        f"\nAPI / bare view: POST {ratios['post_rps']:.2f}x the throughput "
        f"({ratios['post_p50']:.1f}x the p50), GET {ratios['get_rps']:.2f}x "
        f"({ratios['get_p50']:.1f}x the p50)"
    )
    write_results_and_figure(args.out, "api", results, plot)
    return results


if __name__ == "__main__":
    main()
