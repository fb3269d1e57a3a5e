"""Full-size SDXL (random weights, same architecture and compute as SDXL base) on a CUDA GPU:
seconds per image at several batch sizes through the worker's batch path, eager and with
``torch.compile`` of the UNet (compiled by the warm-up at each batch size), and peak GPU memory.

    python -m bench.gpu_batching [--model-dir /tmp/illu-sdxl-random] [--batches 1,4,8]

Each batch size is timed once after a short warm-up pass of the same shape (with compile,
the warm-up pass runs the compiled graph the engine warm-up built). CFG on (guidance 5.0),
1024x1024, 30 steps, Euler. Writes gpu_batching.json under --out.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    sys.exit("run it as a module from the repository root: python -m bench.gpu_batching")

import argparse  # noqa: E402
import gc  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from .common import add_output_argument, machine, print_table, write_results  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=Path("/tmp/illu-sdxl-random"))
    parser.add_argument("--batches", default="1,4,8")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--compile-mode", default="default", help="torch.compile mode")
    parser.add_argument("--skip-compiled", action="store_true")
    add_output_argument(parser)
    return parser.parse_args(argv)


def measure(engine, model: str, args, batches: list[int]) -> list[dict]:
    import torch

    from gpu_worker.engine.batching import BatchMember
    from gpu_worker.engine.spec import GenerationSpec

    def members(count: int, steps: int) -> list[BatchMember]:
        return [
            BatchMember(GenerationSpec(model=model, prompt=f"a lighthouse {i}", seeds=(i,),
                                       width=args.size, height=args.size, steps=steps,
                                       guidance_scale=5.0, scheduler="euler"))
            for i in range(count)
        ]  # fmt: skip

    rows = []
    for batch in batches:
        torch.cuda.synchronize()
        started = time.perf_counter()
        engine.generate_batch(members(batch, 2))  # warm-up of this shape (the compile, if any)
        torch.cuda.synchronize()
        warmup_s = time.perf_counter() - started
        torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        result = engine.generate_batch(members(batch, args.steps))
        torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        rows.append({
            "batch": batch,
            "s_per_image": seconds / batch,
            "s_per_pass": seconds,
            "images_per_hour": batch / seconds * 3600,
            "denoise_s": result.inference_ms / 1000,
            "warmup_or_compile_s": warmup_s,
            "peak_gib": torch.cuda.max_memory_allocated() / 1024**3,
        })  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def main(argv=None) -> dict:
    args = parse_args(argv)
    import torch

    from gpu_worker.engine.config import EngineConfig
    from gpu_worker.engine.devices import select_device
    from gpu_worker.engine.full_size import build_full_size_random
    from gpu_worker.engine.generate import Engine

    if not torch.cuda.is_available():
        sys.exit("bench.gpu_batching needs a CUDA GPU")
    started = time.perf_counter()
    if not (args.model_dir / "model_index.json").exists():
        build_full_size_random(args.model_dir)
    build_s = time.perf_counter() - started
    batches = [int(b) for b in args.batches.split(",")]
    model = str(args.model_dir)
    results = {"benchmark": "gpu_batching", "machine": machine(), "build_s": build_s,
               "gpu": torch.cuda.get_device_name(), "config": {k: str(v) for k, v in
               vars(args).items()}, "modes": []}  # fmt: skip
    buckets = tuple((args.size, args.size, batch) for batch in batches)
    variants = [("eager", EngineConfig(memory_profile="large"))]
    if not args.skip_compiled:
        compiled = EngineConfig(
            memory_profile="large",
            compile_unet=True,
            compile_mode=args.compile_mode,
            compile_buckets=buckets,
        )
        variants.append(("compiled", compiled))
    for name, config in variants:
        engine = Engine(select_device("cuda"), config)
        load_ms = engine.warm_up(model)["load_ms"]
        rows = measure(engine, model, args, batches)
        results["modes"].append({"name": name, "load_ms": load_ms, "rows": rows})
        del engine
        gc.collect()
        torch.cuda.empty_cache()
    table = [
        (mode["name"], row["batch"], row["s_per_image"], row["images_per_hour"],
         row["warmup_or_compile_s"], row["peak_gib"])
        for mode in results["modes"] for row in mode["rows"]
    ]  # fmt: skip
    print_table(["mode", "batch", "s/image", "images/h", "warm-up s", "peak GiB"], table)
    path = write_results(args.out, "gpu_batching", results)
    print(f"\nwrote {path}")
    return results


if __name__ == "__main__":
    main()
