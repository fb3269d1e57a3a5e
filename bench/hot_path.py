"""Time the denoising thread spends outside the UNet per identity job, with identity scoring
on that thread (before) and in the storage stage (now).

    python -m bench.hot_path [--jobs 8] [--size 256] [--steps 4]

In one process, on the demo model, with an embedded Redis and SeaweedFS and a SQLite
database of its own: memory jobs (the user's avatar through IP-Adapter, every image scored
for identity with the dlib backend) are claimed one at a time and run through the worker's
serving path (``serving.batch_pass.run_jobs``) with the background storage stage, as a worker
runs them. For each job: the wall time of ``run_jobs`` on the calling (denoising) thread, the
UNet's share of it (its forward calls, timed), and identity scoring done on that thread. The
``before`` mode forces scoring onto the denoising thread, as every identity job was scored
before this change (only jobs whose run decides on the scores still are: the consistency
filter and repairs).
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    sys.exit("run it as a module from the repository root: python -m bench.hot_path")

import argparse  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from .common import add_output_argument, machine, print_table, summarize, write_results  # noqa: E402


def _setup(database: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "illuplatform.settings.test")
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class Clock:
    """Seconds spent in a wrapped callable, by thread name."""

    def __init__(self):
        self.by_thread: dict[str, float] = {}
        self._lock = threading.Lock()

    def wrap(self, function):
        clock = self

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                name = threading.current_thread().name
                with clock._lock:
                    clock.by_thread[name] = (
                        clock.by_thread.get(name, 0.0) + time.perf_counter() - started
                    )

        return timed

    def take(self, thread: str) -> float:
        with self._lock:
            return self.by_thread.pop(thread, 0.0)


def run(mode: str, jobs: int, size: int, steps: int) -> dict:
    from diffusers import UNet2DConditionModel

    from accounts.services import avatar_create, user_create
    from generation.models import GenerationJob
    from generation.services import job_create
    from generation.work_kind import JOBS
    from gpu_worker.scoring import IdentityScorer
    from gpu_worker.serving import output as serving_output
    from gpu_worker.serving.batch_pass import run_jobs
    from gpu_worker.serving.storage_stage import StorageStage
    from tests import photos
    from work.lifecycle import work_claim_many

    unet, scoring = Clock(), Clock()
    real_forward, real_score = UNet2DConditionModel.forward, IdentityScorer.score
    real_decides = serving_output.scores_decide_the_run
    UNet2DConditionModel.forward = unet.wrap(real_forward)
    IdentityScorer.score = scoring.wrap(real_score)
    if mode == "before":
        serving_output.scores_decide_the_run = lambda job: True
    me = threading.current_thread().name
    owner = user_create(username=f"hot-path-{mode}", password="hot-path-password-1")
    avatar_create(owner=owner, upload=photos.upload_of(photos.astronaut()))
    params = {"prompt": "a day at the beach", "width": size, "height": size, "steps": steps}
    stage = StorageStage(capacity=2)
    rows = []
    try:
        for index in range(jobs + 1):  # the first one loads the models: not counted
            job, _ = job_create(owner=owner, kind="memory", params={**params, "seed": index})
            work_claim_many(JOBS, row_ids=[str(job.id)], worker_name="hot-path")
            unet.take(me), scoring.take(me)
            started = time.perf_counter()
            run_jobs([GenerationJob.objects.get(pk=job.pk)], stage.submit)
            wall = time.perf_counter() - started
            on_thread = {"unet": unet.take(me), "scoring": scoring.take(me)}
            if index:
                rows.append({"wall_s": wall, **{f"{k}_s": v for k, v in on_thread.items()}})
        stage.drain(timeout=600)
    finally:
        stage.close()
        UNet2DConditionModel.forward, IdentityScorer.score = real_forward, real_score
        serving_output.scores_decide_the_run = real_decides
    scored = GenerationJob.objects.filter(owner=owner, images__consistency_score__isnull=False)
    outside = [row["wall_s"] - row["unet_s"] for row in rows]
    return {
        "mode": mode,
        "jobs": len(rows),
        "jobs_scored": scored.distinct().count(),
        "wall_s": summarize([row["wall_s"] for row in rows]),
        "outside_unet_s": summarize(outside),
        "scoring_on_thread_s": summarize([row["scoring_s"] for row in rows]),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=4)
    add_output_argument(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="illu-hot-path-") as folder:
        _setup(Path(folder) / "db.sqlite3")
        results = [run(mode, args.jobs, args.size, args.steps) for mode in ("before", "now")]
    print_table(
        ["mode", "jobs", "wall p50 s", "outside UNet p50 s", "scoring on thread p50 s"],
        [
            [
                r["mode"],
                r["jobs"],
                round(r["wall_s"]["median"], 3),
                round(r["outside_unet_s"]["median"], 3),
                round(r["scoring_on_thread_s"]["median"], 3),
            ]
            for r in results
        ],
    )
    path = write_results(
        args.out,
        "hot-path",
        {"machine": machine(), "args": vars(args) | {"out": str(args.out)}, "modes": results},
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
