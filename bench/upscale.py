"""Upscale benchmark: a 1024x1024 source to 4096x4096 (scale 4) through the engine's tiled
diffusion upscale (SDXL img2img over overlapping tiles, blended), and the Lanczos path.

    python -m bench.upscale                 # CUDA: full-size random SDXL; CPU: the tiny model
    python -m bench.upscale --source 256    # a quicker run (256 -> 1024)

Reported: wall time per path, tiles and denoising steps run, and peak memory: the process's
peak RSS (``ru_maxrss``) always, and ``torch.cuda.max_memory_allocated`` on CUDA (what bounds
the output size on a 24 GB GPU: each tile's UNet and VAE see only the tile, so it does not grow
with the output). Timings are figures for this machine, never asserted by tests.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    sys.exit("run it as a module from the repository root: python -m bench.upscale")

import argparse  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from .common import (  # noqa: E402
    REPO_ROOT,
    add_output_argument,
    machine,
    new_figure,
    print_table,
    save_figure,
    write_results,
)
from .engine import quiet_libraries  # noqa: E402
from .engine_models import base_model  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="", help="cuda, cuda:1, cpu (default: best)")
    parser.add_argument("--source", type=int, default=1024, help="source side px")
    parser.add_argument("--scale", type=int, default=4, choices=(2, 4))
    parser.add_argument("--tile", type=int, default=1024, help="tile side px")
    parser.add_argument("--overlap", type=int, default=128, help="tile overlap px")
    parser.add_argument("--steps", type=int, default=20, help="schedule length")
    parser.add_argument("--strength", type=float, default=0.3, help="steps run = steps*strength")
    parser.add_argument("--models-dir", type=Path, default=None)
    add_output_argument(parser)
    return parser.parse_args(argv)


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def source_image(side: int) -> Image.Image:
    """A smooth picture with detail (gradients and rings), so tiles differ."""
    y, x = np.mgrid[0:side, 0:side] / side
    rings = (np.sin(40 * np.hypot(x - 0.5, y - 0.5)) + 1) / 2
    rgb = np.stack([x, y, rings], axis=-1) * 255
    return Image.fromarray(rgb.astype(np.uint8))


def main(argv=None) -> dict:
    args = parse_args(argv)
    quiet_libraries()
    from gpu_worker.engine.config import EngineConfig
    from gpu_worker.engine.devices import select_device
    from gpu_worker.engine.generate import Engine
    from gpu_worker.engine.spec import GenerationSpec, SpecLimits
    from gpu_worker.engine.tiles import tile_boxes

    profile = select_device(args.device or None)
    cuda = profile.device.startswith("cuda")
    kind = "cuda" if cuda else "cpu"
    models_dir = args.models_dir or REPO_ROOT / "var" / "bench-models" / kind
    models_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    base = base_model(profile.device, models_dir)
    build_s = time.perf_counter() - started
    engine = Engine(profile, EngineConfig(limits=SpecLimits(min_side=64)))
    load_ms = engine.warm(str(base))
    rss_after_load = peak_rss_bytes()

    source = source_image(args.source)
    side = args.source * args.scale
    spec = GenerationSpec(
        model=str(base), prompt="a detailed landscape", seeds=(1,), mode="upscale",
        source=source, width=side, height=side, scale=args.scale, steps=args.steps,
        strength=args.strength, tile_size=args.tile, tile_overlap=args.overlap,
    )  # fmt: skip
    rows = []
    for method in ("lanczos", "tiled"):
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        result = engine.generate(replace(spec, upscale_method=method))
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        image = result.images[0].image
        assert image.size == (side, side), image.size
        row = {
            "method": method,
            "seconds": seconds,
            "output": f"{image.width}x{image.height}",
            "tiles": result.images[0].manifest["edit"].get("tiles", 0),
            "steps_run": result.images[0].manifest["edit"]["steps_run"],
            "peak_rss_mib": peak_rss_bytes() / 2**20,
        }
        if cuda:
            row["peak_gpu_allocated_gib"] = torch.cuda.max_memory_allocated() / 2**30
            row["peak_gpu_reserved_gib"] = torch.cuda.max_memory_reserved() / 2**30
        rows.append(row)
        del result, image

    results = {
        "benchmark": "upscale",
        "command": "python -m " + " ".join(["bench.upscale", *(argv or sys.argv[1:])]),
        "source": f"{args.source}x{args.source}",
        "scale": args.scale,
        "tile": args.tile,
        "overlap": args.overlap,
        "tiles_expected": len(tile_boxes(side, side, args.tile, args.overlap)),
        "steps": args.steps,
        "strength": args.strength,
        "device": {
            "device": profile.name,
            "dtype": str(profile.dtype),
            "model": "full-size SDXL base, random weights" if cuda else "tiny SDXL (demo model)",
            "memory_profile": engine.pipelines.memory.name,
            **(
                {
                    "gpu": torch.cuda.get_device_properties(0).name,
                    "gpu_memory_gib": round(
                        torch.cuda.get_device_properties(0).total_memory / 2**30, 1
                    ),
                }
                if cuda
                else {}
            ),
        },
        "build_s": build_s,
        "load_ms": load_ms,
        "peak_rss_after_load_mib": rss_after_load / 2**20,
        "rows": rows,
        "definitions": {
            "seconds": "wall time of Engine.generate for the whole upscale (all tiles)",
            "peak_rss_mib": "the process's peak resident memory so far (a high-water mark)",
            "peak_gpu_allocated_gib": "torch.cuda.max_memory_allocated during that row",
        },
        "machine": machine(),
    }
    name = f"upscale-{kind}"
    print_table(list(rows[0]), [list(row.values()) for row in rows])
    path = write_results(args.out, name, results)
    fig, axes = new_figure(8, 4, ncols=2)
    axes[0].bar([r["method"] for r in rows], [r["seconds"] for r in rows])
    axes[0].set_ylabel("seconds")
    axes[0].set_title(f"{results['source']} x{args.scale}, {results['device']['model']}")
    memory = [r.get("peak_gpu_allocated_gib", r["peak_rss_mib"] / 1024) for r in rows]
    axes[1].bar([r["method"] for r in rows], memory)
    axes[1].set_ylabel("peak GPU allocated GiB" if cuda else "peak RSS GiB")
    save_figure(fig, args.out, name)
    print(f"wrote {path}")
    return results


if __name__ == "__main__":
    main()
