"""Many open event streams and ``Prefer: wait`` requests against ONE web process, while another
user creates and reads jobs: that user's latency, errors, and the database connections in use.

    python -m bench.streams [--levels 0,250,500,1000,2000] [--waits 100] [--duration 15]

Starts the stack (PostgreSQL when DATABASE_URL names one, else SQLite; Redis; S3) and one
uvicorn process; no GPU worker runs. Stream users each create jobs that are then marked
``running`` (as if a worker held them), and open SSE streams on them with raw asyncio sockets
(``--streams-per-user`` each, spread over their jobs) until ``N`` are open at each level; the
streams stay open across levels. ``--waits`` clients keep one ``POST /api/v1/jobs/`` with
``Prefer: wait=<--wait-seconds>`` open each, all the time (those jobs never end: every wait
times out and the client asks again). At each level, ``--clients`` loops of the other user
create a job and read it back for ``--duration`` seconds. Meanwhile the bench samples the
PostgreSQL backends of its database (pg_stat_activity: all, and ``active``), the web
process's threads and memory.

Goal: at 2,000 streams the other user's p95 under 200 ms, no 5xx, and no more database
connections than the pool's ``ILLU_DB_POOL_MAX``."""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    sys.exit("run it as a module from the repository root: python -m bench.streams")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import httpx  # noqa: E402
import psutil  # noqa: E402

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
    parser.add_argument("--levels", default="0,250,500,1000,2000", help="open streams, N")
    parser.add_argument("--waits", type=int, default=100, help="Prefer: wait requests, M")
    parser.add_argument("--wait-seconds", type=int, default=20)
    parser.add_argument("--duration", type=float, default=15, help="measured seconds per level")
    parser.add_argument("--clients", type=int, default=2, help="the other user's loops")
    parser.add_argument("--streams-per-user", type=int, default=100)
    parser.add_argument("--jobs-per-user", type=int, default=10)
    parser.add_argument("--pool-max", type=int, default=10, help="ILLU_DB_POOL_MAX")
    parser.add_argument("--db-name", default="illu_bench_streams", help="scratch Postgres db")
    add_output_argument(parser)
    return parser.parse_args(argv)


def raise_fd_limit() -> int:
    """As many open files as allowed (each stream is a socket here and in the server, which
    inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- raw HTTP/1.1 clients (a few hundred bytes of state per stream) ------------------------


async def open_stream(host: str, port: int, path: str, token: str):
    """(status, writer, drain task): the stream read up to its first event, then drained."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Token {token}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    while True:
        line = await reader.readline()
        if (
            not line
            or (status == 200 and line.startswith(b"event: "))
            or status != 200
            and line == b"\r\n"
        ):
            break

    async def drain() -> None:
        with contextlib.suppress(OSError):
            while await reader.read(65536):
                pass

    return status, writer, asyncio.get_running_loop().create_task(drain())


async def wait_loop(
    host: str, port: int, token: str, seconds: int, statuses: Counter, stop, to_cancel: list
):
    body = json.dumps(JOB_BODY).encode()
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(
                f"POST /api/v1/jobs/ HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Authorization: Token {token}\r\nPrefer: wait={seconds}\r\n"
                "Content-Type: application/json\r\nConnection: close\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            statuses[status] += 1
            if status == 429:  # over the cap: as a client should, wait for Retry-After
                writer.close()
                await asyncio.sleep(5)
                continue
            answer = b""
            while chunk := await reader.read(65536):
                answer += chunk
            writer.close()
            if status in (200, 201):  # cancelled, so that the queue stays short
                to_cancel.append(json.loads(answer.split(b"\r\n\r\n", 1)[1])["id"])
        except (OSError, IndexError, ValueError):
            statuses["connection error"] += 1
            await asyncio.sleep(0.5)


# --- samplers --------------------------------------------------------------------------------


class Sampler(threading.Thread):
    """Every 0.5 s: the database's backends (all, active) and the web process's threads and
    memory; ``window()`` returns what was seen since the last call."""

    def __init__(self, database_url: str, web_pid: int):
        super().__init__(daemon=True)
        self.database_url = database_url
        self.web = psutil.Process(web_pid)
        self.samples: list[dict] = []
        self.stop = threading.Event()

    def run(self) -> None:
        connection = None
        if self.database_url.startswith("postgres"):
            import psycopg

            connection = psycopg.connect(self.database_url, autocommit=True)
        while not self.stop.wait(0.5):
            sample = {
                "threads": self.web.num_threads(),
                "rss_mb": self.web.memory_info().rss / 2**20,
                "cpu_percent": self.web.cpu_percent(),  # of one core, since the last sample
                "machine_cpu_percent": psutil.cpu_percent(),  # of all cores, everyone's
            }
            if connection is not None:
                row = connection.execute(
                    "SELECT count(*), count(*) FILTER (WHERE state = 'active') "
                    "FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).fetchone()
                sample["backends"], sample["active"] = row
            self.samples.append(sample)

    def window(self) -> dict:
        samples, self.samples = self.samples, []
        if not samples:
            return {}
        keys = samples[0].keys()
        return {f"max_{key}": max(s[key] for s in samples) for key in keys} | {
            f"mean_{key}": sum(s[key] for s in samples) / len(samples) for key in keys
        }


# --- the other user ------------------------------------------------------------------------


async def other_user(base: str, token: str, duration: float, clients: int) -> dict:
    latencies: dict[str, list[float]] = {"create": [], "read": []}
    statuses: Counter = Counter()
    headers = {"Authorization": f"Token {token}"}
    deadline = time.monotonic() + duration

    async def loop(http: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            start = time.perf_counter()
            try:
                created = await http.post("/api/v1/jobs/", json=JOB_BODY, headers=headers)
            except httpx.HTTPError:
                statuses["connection error"] += 1
                continue
            latencies["create"].append((time.perf_counter() - start) * 1000)
            statuses[created.status_code] += 1
            if created.status_code != 201:
                continue
            start = time.perf_counter()
            try:
                read = await http.get(f"/api/v1/jobs/{created.json()['id']}/", headers=headers)
            except httpx.HTTPError:
                statuses["connection error"] += 1
                continue
            latencies["read"].append((time.perf_counter() - start) * 1000)
            statuses[read.status_code] += 1
            # Not measured: cancelled, so that the queue (and the cost of queue positions in
            # every job answer) stays the same size at every level.
            with contextlib.suppress(httpx.HTTPError):
                await http.post(f"/api/v1/jobs/{created.json()['id']}/cancel/", headers=headers)

    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(60)) as http:
        await asyncio.gather(*(loop(http) for _ in range(clients)))
    every = latencies["create"] + latencies["read"]
    errors = sum(n for status, n in statuses.items() if not (200 <= int_or(status) < 300))
    return {
        "requests": len(every),
        "p50_ms": percentile(every, 50) if every else None,
        "p95_ms": percentile(every, 95) if every else None,
        "p99_ms": percentile(every, 99) if every else None,
        "create_p95_ms": percentile(latencies["create"], 95) if latencies["create"] else None,
        "read_p95_ms": percentile(latencies["read"], 95) if latencies["read"] else None,
        "errors": errors,
        "server_errors": sum(n for s, n in statuses.items() if int_or(s) >= 500),
        "statuses": {str(k): v for k, v in statuses.items()},
    }


def int_or(status) -> int:
    return status if isinstance(status, int) else 599


async def cancel_loop(base: str, tokens: dict, wait_users: list[str], to_cancel: list) -> None:
    """Cancels the jobs whose waits ended (one wait user: its token cancels them all)."""
    headers = {"Authorization": f"Token {tokens[wait_users[0]]}"}
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(60)) as http:
        while True:
            while to_cancel:
                with contextlib.suppress(httpx.HTTPError):
                    await http.post(f"/api/v1/jobs/{to_cancel.pop()}/cancel/", headers=headers)
            await asyncio.sleep(0.5)


# --- the run -------------------------------------------------------------------------------


async def run(stack: Stack, tokens: dict, jobs: dict, args, sampler: Sampler) -> list[dict]:
    parts = urlsplit(stack.base_url)
    host, port = parts.hostname, parts.port
    stream_users = sorted(name for name in tokens if name.startswith("streams"))
    stop_waits = asyncio.Event()
    wait_statuses: Counter = Counter()
    to_cancel: list[str] = []
    wait_users = sorted(name for name in tokens if name.startswith("waits"))
    waits = [
        asyncio.create_task(
            wait_loop(
                host,
                port,
                tokens[wait_users[i % len(wait_users)]],
                args.wait_seconds,
                wait_statuses,
                stop_waits,
                to_cancel,
            )
        )
        for i in range(args.waits)
    ]
    canceller = asyncio.create_task(cancel_loop(stack.base_url, tokens, wait_users, to_cancel))
    streams: list = []
    stream_statuses: Counter = Counter()
    results = []
    for level in [int(n) for n in args.levels.split(",")]:
        opening = time.monotonic()
        while len(streams) < level:
            batch = []
            for index in range(len(streams), min(level, len(streams) + 100)):
                user = stream_users[index // args.streams_per_user]
                job = jobs[user][index % len(jobs[user])]
                path = f"/api/v1/jobs/{job}/events/"
                batch.append(open_stream(host, port, path, tokens[user]))
            for status, writer, drain in await asyncio.gather(*batch):
                stream_statuses[status] += 1
                streams.append((writer, drain))
        opened_s = time.monotonic() - opening
        sampler.window()  # drop what the opening left
        before = Counter(wait_statuses)
        other = await other_user(stack.base_url, tokens["other"], args.duration, args.clients)
        seen = sampler.window()
        waited = {str(k): wait_statuses[k] - before.get(k, 0) for k in wait_statuses}
        result = {
            "streams": level,
            "waits": args.waits,
            "open_s": round(opened_s, 2),
            "other_user": other,
            "server": seen,
            "waits_answered": waited,
            "stream_statuses": {str(k): v for k, v in stream_statuses.items()},
        }
        results.append(result)
        print(
            f"N={level}: p95 {other['p95_ms']:.1f} ms, {other['requests']} requests, "
            f"{other['errors']} errors; backends max {seen.get('max_backends', '-')}, "
            f"threads max {seen['max_threads']}; opened in {opened_s:.1f} s",
            flush=True,
        )
    stop_waits.set()
    canceller.cancel()
    for task in waits:
        task.cancel()
    for writer, drain in streams:
        writer.close()
        drain.cancel()
    await asyncio.gather(*waits, *(d for _, d in streams), return_exceptions=True)
    return results


def prepare_jobs(stack: Stack, tokens: dict, per_user: int) -> dict[str, list[str]]:
    """Each stream user's jobs, created through the API and then marked running (as if a
    worker held them; no worker runs here), so their streams stay open."""
    jobs: dict[str, list[str]] = {}
    with httpx.Client(base_url=stack.base_url, timeout=60) as http:
        for name, token in tokens.items():
            if not name.startswith("streams"):
                continue
            headers = {"Authorization": f"Token {token}"}
            jobs[name] = [
                http.post("/api/v1/jobs/", json=JOB_BODY, headers=headers).json()["id"]
                for _ in range(per_user)
            ]
    ids = [job for user_jobs in jobs.values() for job in user_jobs]
    script = (
        "from django.utils import timezone\n"
        "from generation.models import GenerationJob\n"
        f"GenerationJob.objects.filter(pk__in={ids!r}).update("
        "status='running', started_at=timezone.now())\n"
    )
    stack.manage("shell", "-c", script)
    stack.empty_queues()
    return jobs


def plot(results: dict, out_dir):
    fig, (latency, database) = new_figure(width=11, height=4.2, ncols=2)
    levels = [r["streams"] for r in results["levels"]]
    for key, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")):
        latency.plot(levels, [r["other_user"][key] for r in results["levels"]], "o-", label=label)
    latency.axhline(200, color="grey", linestyle=":", label="goal: p95 200 ms")
    latency.set_xlabel(f"open SSE streams (plus {results['config']['waits']} waits)")
    latency.set_ylabel("other user's latency, ms")
    latency.set_title("Create + read jobs while streams are open")
    latency.legend()
    if any("max_backends" in r["server"] for r in results["levels"]):
        database.plot(levels, [r["server"]["max_backends"] for r in results["levels"]], "o-",
                      label="backends (max)")  # fmt: skip
        database.plot(levels, [r["server"]["max_active"] for r in results["levels"]], "s-",
                      label="active (max)")  # fmt: skip
        database.axhline(results["config"]["pool_max"], color="grey", linestyle=":",
                         label="pool size")  # fmt: skip
    database.plot(levels, [r["server"]["max_threads"] for r in results["levels"]], "^-",
                  label="web process threads (max)")  # fmt: skip
    database.set_xlabel("open SSE streams")
    database.set_title("PostgreSQL connections and threads")
    database.legend()
    return save_figure(fig, out_dir, "streams")


def main(argv=None) -> dict:
    args = parse_args(argv)
    fd_limit = raise_fd_limit()
    max_streams = max(int(n) for n in args.levels.split(","))
    stream_users = max(1, math.ceil(max_streams / args.streams_per_user))
    wait_users = 1  # its token cancels every job the waits created
    users = {"other": False}
    users |= {f"streams{i:03d}": False for i in range(stream_users)}
    users |= {f"waits{i:03d}": False for i in range(wait_users)}
    server_env = {
        "ILLU_MAX_STREAMS_PER_USER": str(args.streams_per_user),
        "ILLU_MAX_WAITS_PER_USER": str(max(1, args.waits)),
        "ILLU_MAX_STREAMS_PER_PROCESS": str(max_streams + args.waits + 100),
        "ILLU_DB_POOL_MAX": str(args.pool_max),
        "ILLU_MAX_WAIT_SECONDS": str(max(60, args.wait_seconds)),
    }
    with Stack(db_name=args.db_name) as stack:
        stack.start_services()
        tokens = stack.prepare(users)["tokens"]
        stack.start_web(extra_env=server_env)
        jobs = prepare_jobs(stack, tokens, args.jobs_per_user)
        sampler = Sampler(stack.env["DATABASE_URL"], stack.web_process.pid)
        sampler.start()
        try:
            levels = asyncio.run(run(stack, tokens, jobs, args, sampler))
        finally:
            sampler.stop.set()
        services = dict(stack.description)
        stack.empty_queues()
    results = {
        "benchmark": "streams",
        "command": "python -m bench.streams " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "services": services,
        "config": {k: v for k, v in vars(args).items() if k != "out"} | {"fd_limit": fd_limit},
        "server_settings": server_env,
        "levels": levels,
    }
    print()
    print_table(
        ["streams", "waits", "requests", "p50 ms", "p95 ms", "p99 ms", "errors", "5xx",
         "db conns max", "db active max", "threads max", "rss MB", "web cpu %", "machine cpu %"],
        [
            (
                r["streams"], r["waits"], r["other_user"]["requests"], r["other_user"]["p50_ms"],
                r["other_user"]["p95_ms"], r["other_user"]["p99_ms"], r["other_user"]["errors"],
                r["other_user"]["server_errors"], r["server"].get("max_backends", "-"),
                r["server"].get("max_active", "-"), r["server"]["max_threads"],
                round(r["server"]["max_rss_mb"]), round(r["server"]["mean_cpu_percent"]),
                round(r["server"]["mean_machine_cpu_percent"]),
            )
            for r in levels
        ],
    )  # fmt: skip
    write_results_and_figure(args.out, "streams", results, plot)
    return results


if __name__ == "__main__":
    main()
