"""Compilation on the CPU with the tiny models: the warm-up's compile time and graphs per
served bucket, then mixed jobs at the served buckets (LoRAs and weights changing, schedulers,
1..N images, reference images on and off) and the graphs compiled after the warm-up.

    python -m bench.compile_cpu [--backend eager|aot_eager] [--buckets 64x64x1,64x64x2]
                                [--jobs 20] [--no-hotswap]

The backends trace with dynamo like inductor but need no C++ toolchain, so graph counts and
dynamo's tracing time are what a GPU worker sees; inductor's code generation is not in them
(``bench/gpu_check.sh`` measures that on a GPU). Writes compile_cpu.json under --out.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from bench.common import (
    add_output_argument,
    machine,
    new_figure,
    print_table,
    save_figure,
    write_results,
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="eager", choices=("eager", "aot_eager"))
    parser.add_argument("--buckets", default="64x64x1,64x64x2,96x64x1")
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--no-hotswap", action="store_true")
    parser.add_argument("--models-dir", type=Path, default=Path("var/bench-models/compile"))
    add_output_argument(parser)
    return parser.parse_args(argv)


def mixed_specs(models: dict, buckets, count: int, seed: int = 5) -> list:
    """``count`` text jobs at the served buckets; every fourth one with reference images."""
    from gpu_worker.engine.spec import GenerationSpec, LoraSpec

    rng = random.Random(seed)
    loras = [str(models[name]) for name in ("lora_a", "lora_b", "lora_kohya")]
    specs = []
    for index in range(count):
        width, height, images = rng.choice(buckets)
        chosen = rng.sample(loras, rng.randint(0, 2))
        extra = {}
        if index % 4 == 3:
            extra["ip_adapter_images"] = (_pattern(index),)
        specs.append(
            GenerationSpec(
                model=str(models["sdxl"]),
                prompt=f"a lighthouse, take {index}",
                seeds=tuple(rng.randrange(1000) for _ in range(images)),
                width=width,
                height=height,
                steps=2,
                guidance_scale=5.0,
                scheduler=rng.choice((None, "euler_a", "dpmpp_2m", "ddim")),
                loras=tuple(LoraSpec(path, round(rng.uniform(0.1, 1.2), 2)) for path in chosen),
                **extra,
            )
        )
    return specs


def _pattern(seed: int):
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def main(argv=None) -> dict:
    args = parse_args(argv)
    import torch

    from gpu_worker.engine.compilation import parse_buckets
    from gpu_worker.engine.config import EngineConfig
    from gpu_worker.engine.devices import DeviceProfile
    from gpu_worker.engine.fast_path import FastPath
    from gpu_worker.engine.generate import Engine
    from gpu_worker.engine.tiny_models import build_tiny_models

    torch.set_num_threads(1)
    buckets = parse_buckets(args.buckets)
    models = build_tiny_models(args.models_dir)
    config = EngineConfig(
        fast_path=FastPath(on_cpu=True),
        ip_adapter=str(models["ip_adapter"]),
        compile_unet=True,
        compile_backend=args.backend,
        compile_buckets=buckets,
        compile_cache_dir=None,
        lora_hotswap=not args.no_hotswap,
        lora_hotswap_max_rank=8,
    )
    engine = Engine(DeviceProfile("cpu", torch.float32), config)
    warmed = engine.warm_up(str(models["sdxl"]))
    started = time.perf_counter()
    specs = mixed_specs(models, buckets, args.jobs)
    for spec in specs:
        engine.generate(spec)
    jobs_s = time.perf_counter() - started
    status = engine.status()["compile"]
    results = {
        "benchmark": "compile_cpu",
        "machine": machine(),
        "config": {**vars(args), "models_dir": str(args.models_dir), "out": str(args.out)},
        "definitions": {
            "compile_ms": "the warm-up's time for every bucket, plain and LoRA-slot kinds",
            "graphs": "graphs dynamo compiled (torch._dynamo counters: unique_graphs)",
            "graphs_after_warmup": f"graphs compiled while the {args.jobs} mixed jobs ran",
        },
        "load_ms": warmed["load_ms"],
        "compile_ms": warmed["compile_ms"],
        "graphs": warmed["graphs"],
        "per_bucket": warmed["per_bucket"],
        "jobs": args.jobs,
        "jobs_s": jobs_s,
        "graphs_after_warmup": status["graphs_after_warmup"],
        "eager_fallbacks": status["eager_fallbacks"],
        "hotswap": config.lora_hotswap,
    }
    rows = [(f"{w}x{h}x{n}", row["ms"], row["graphs"]) for row in warmed["per_bucket"]
            for w, h, n in [row["bucket"]]]  # fmt: skip
    print_table(["bucket", "compile ms", "graphs"], rows)
    print(
        f"{args.jobs} mixed jobs in {jobs_s:.1f} s: {status['graphs_after_warmup']} graphs "
        f"compiled after the warm-up, {status['eager_fallbacks']} eager fall-backs"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    fig, axes = new_figure()
    axes.bar([row[0] for row in rows], [row[1] / 1000 for row in rows])
    axes.set_ylabel("compile s (dynamo, backend " + args.backend + ")")
    axes.set_title(f"{warmed['graphs']} graphs; {status['graphs_after_warmup']} after warm-up")
    save_figure(fig, args.out, "compile_cpu")
    print("wrote", write_results(args.out, "compile_cpu", results))
    return results


if __name__ == "__main__":
    main()
