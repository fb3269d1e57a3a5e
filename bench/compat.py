"""What each compatibility route adds over the platform's own job API, for the same job.

    python -m bench.compat [--runs 30] [--steps 2] [--size 256]

Starts the platform (uvicorn, one GPU worker on the tiny demo model, as bench/stack.py does)
and, one request at a time, runs each compatibility route and its native counterpart in turn
with the same job (same prompt, size, steps and seed), so both see the same machine state:

- native: ``POST /api/v1/jobs/`` with ``Prefer: wait=60`` (the job resource once it ended);
  for an edit first ``POST /api/v1/uploads/``; where the route answers image bytes (OpenAI's
  ``b64_json``, A1111), also the ``GET`` of the image URL the job resource names;
- the route: ``POST /v1/images/generations`` (``url`` and ``b64_json``),
  ``/v1/images/edits`` (img2img), ``/sdapi/v1/txt2img``, ``/sdapi/v1/img2img``.

Each figure is client-side wall time per request; *added* is route minus native, pair by pair
(p50 and p95 of those differences). Run on an idle machine: the worker's inference dominates
both sides, and its jitter is in the differences too.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    sys.exit("run it as a module from the repository root: python -m bench.compat")

import argparse  # noqa: E402
import base64  # noqa: E402
import io  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

import httpx  # noqa: E402
from PIL import Image  # noqa: E402

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

PROMPT = "a lighthouse at dusk"
WAIT = {"Prefer": "wait=60"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="pairs per route")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--size", type=int, default=256, help="image side, px")
    parser.add_argument("--db-name", default="illu_bench_compat", help="scratch Postgres database")
    add_output_argument(parser)
    return parser.parse_args(argv)


def source_png(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (40, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


class Routes:
    """Each route and its native counterpart: functions of (client, seed) that return when
    the client holds what the route answers."""

    def __init__(self, client: httpx.Client, username: str, token: str, args):
        self.client, self.args = client, args
        self.token = {"Authorization": f"Token {token}"}
        self.bearer = {"Authorization": f"Bearer {token}"}
        self.basic = (username, token)
        self.png = source_png(args.size)

    def _ok(self, response: httpx.Response) -> dict:
        if response.status_code not in (200, 201):
            raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
        return response.json()

    def _native_job(self, body: dict, *, download: bool) -> dict:
        job = self._ok(self.client.post("/api/v1/jobs/", json=body, headers={**self.token, **WAIT}))
        if job["status"] != "succeeded":
            raise RuntimeError(f"native job {job['id']}: {job['status']} {job['error']}")
        if download:
            for image in job["images"]:
                self.client.get(image["url"]).raise_for_status()
        return job

    def _text(self, seed: int) -> dict:
        size = self.args.size
        return {"kind": "text", "prompt": PROMPT, "width": size, "height": size,
                "steps": self.args.steps, "seed": seed}  # fmt: skip

    def native_text(self, seed: int, *, download: bool) -> None:
        self._native_job(self._text(seed), download=download)

    def native_img2img(self, seed: int, *, download: bool) -> None:
        upload = self._ok(
            self.client.post(
                "/api/v1/uploads/", files={"image": ("s.png", self.png)}, headers=self.token
            )
        )
        body = {"kind": "img2img", "prompt": PROMPT, "source_upload": upload["id"],
                "steps": self.args.steps, "seed": seed, "strength": 0.6}  # fmt: skip
        self._native_job(body, download=download)

    def openai_generation(self, seed: int, *, response_format: str) -> None:
        size = self.args.size
        answer = self._ok(
            self.client.post(
                "/v1/images/generations",
                json={
                    "prompt": PROMPT,
                    "size": f"{size}x{size}",
                    "steps": self.args.steps,
                    "seed": seed,
                    "response_format": response_format,
                },
                headers=self.bearer,
            )  # fmt: skip
        )
        assert answer["data"], answer

    def openai_edit(self, seed: int) -> None:
        answer = self._ok(
            self.client.post(
                "/v1/images/edits",
                files={"image": ("s.png", self.png)},
                data={
                    "prompt": PROMPT,
                    "steps": str(self.args.steps),
                    "seed": str(seed),
                    "strength": "0.6",
                },
                headers=self.bearer,
            )  # fmt: skip
        )
        assert answer["data"], answer

    def a1111_txt2img(self, seed: int) -> None:
        size = self.args.size
        answer = self._ok(
            self.client.post(
                "/sdapi/v1/txt2img",
                json={
                    "prompt": PROMPT,
                    "width": size,
                    "height": size,
                    "steps": self.args.steps,
                    "seed": seed,
                    "sampler_name": "Euler",
                },
                auth=self.basic,
            )  # fmt: skip
        )
        assert answer["images"], answer

    def a1111_img2img(self, seed: int) -> None:
        size = self.args.size
        answer = self._ok(
            self.client.post(
                "/sdapi/v1/img2img",
                json={
                    "prompt": PROMPT,
                    "init_images": [base64.b64encode(self.png).decode()],
                    "width": size,
                    "height": size,
                    "steps": self.args.steps,
                    "seed": seed,
                    "denoising_strength": 0.6,
                    "sampler_name": "Euler",
                },
                auth=self.basic,
            )  # fmt: skip
        )
        assert answer["images"], answer

    def pairs(self):
        """(key, label, native, route) for every route measured."""
        return [
            ("openai_generations_url", "POST /v1/images/generations (url)",
             lambda s: self.native_text(s, download=False),
             lambda s: self.openai_generation(s, response_format="url")),
            ("openai_generations_b64", "POST /v1/images/generations (b64_json)",
             lambda s: self.native_text(s, download=True),
             lambda s: self.openai_generation(s, response_format="b64_json")),
            ("openai_edits", "POST /v1/images/edits (url)",
             lambda s: self.native_img2img(s, download=False), self.openai_edit),
            ("a1111_txt2img", "POST /sdapi/v1/txt2img",
             lambda s: self.native_text(s, download=True), self.a1111_txt2img),
            ("a1111_img2img", "POST /sdapi/v1/img2img",
             lambda s: self.native_img2img(s, download=True), self.a1111_img2img),
        ]  # fmt: skip


def timed(call, seed: int) -> float:
    started = time.perf_counter()
    call(seed)
    return (time.perf_counter() - started) * 1000


def stats(values: list[float]) -> dict[str, float]:
    return {"p50": percentile(values, 50), "p95": percentile(values, 95)}


def measure(routes: Routes, runs: int) -> dict:
    results = {}
    for key, label, native, route in routes.pairs():
        native(10**6)  # unmeasured: first runs of a code path warm caches and connections
        route(10**6 + 1)
        native_ms, route_ms = [], []
        for run in range(runs):
            seed = run * 2
            # Alternate which goes first, so neither always follows the other.
            if run % 2:
                route_ms.append(timed(route, seed + 1))
                native_ms.append(timed(native, seed))
            else:
                native_ms.append(timed(native, seed))
                route_ms.append(timed(route, seed + 1))
        added = [r - n for r, n in zip(route_ms, native_ms, strict=True)]
        results[key] = {
            "route": label,
            "native_ms": stats(native_ms),
            "route_ms": stats(route_ms),
            "added_ms": stats(added),
            "runs": runs,
        }
    return results


def plot(results: dict, out_dir):
    routes = results["routes"]
    keys = list(routes)
    fig, axes = new_figure(10, 4.5)
    positions = range(len(keys))
    axes.bar([p - 0.2 for p in positions], [routes[k]["added_ms"]["p50"] for k in keys], 0.4,
             label="added p50")  # fmt: skip
    axes.bar([p + 0.2 for p in positions], [routes[k]["added_ms"]["p95"] for k in keys], 0.4,
             label="added p95")  # fmt: skip
    axes.axhline(0, color="black", linewidth=0.8)
    axes.set_xticks(list(positions), [routes[k]["route"].replace(" (", "\n(") for k in keys],
                    fontsize=7)  # fmt: skip
    axes.set_ylabel("route - native job API (ms)")
    axes.set_title(f"added latency per request ({results['config']['runs']} pairs each)")
    axes.legend()
    return save_figure(fig, out_dir, "compat")


def main(argv=None) -> dict:
    args = parse_args(argv)
    with Stack(db_name=args.db_name) as stack:
        stack.start_services()
        name = "bench"
        token = stack.prepare({name: False}, demo_models=True)["tokens"][name]
        stack.start_web()
        ready = stack.start_worker(name=f"bench-compat-{uuid.uuid4().hex[:8]}")
        with httpx.Client(base_url=stack.base_url, timeout=120) as client:
            measured = measure(Routes(client, name, token, args), args.runs)
        services = dict(stack.description)
    results = {
        "benchmark": "compat",
        "command": "python -m bench.compat " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "services": services,
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "worker_ready": ready,
        "definitions": {
            "native_ms": "client wall time of the native counterpart: POST /api/v1/jobs/ with "
            "Prefer: wait=60 (after POST /api/v1/uploads/ for an edit), plus the GET of the "
            "image URL where the route answers image bytes",
            "route_ms": "client wall time of the compatibility route, answer received",
            "added_ms": "route_ms - native_ms of the same pair (same job parameters)",
        },
        "routes": measured,
    }
    print_table(
        ["route", "native p50", "route p50", "added p50", "added p95"],
        [
            (
                r["route"],
                r["native_ms"]["p50"],
                r["route_ms"]["p50"],
                r["added_ms"]["p50"],
                r["added_ms"]["p95"],
            )
            for r in measured.values()
        ],  # fmt: skip
    )
    write_results_and_figure(args.out, "compat", results, plot)
    return results


if __name__ == "__main__":
    main()
