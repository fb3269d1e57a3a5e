"""LoRA training speed and memory: steps/s and peak memory of ``train_lora``.

    python -m bench.training          # CPU: the tiny demo model with the demo defaults
                                      # (rank 4, 64 px, 60 steps: what `make run` trains)
    python -m bench.training --device cuda --resolution 1024 --rank 16 --steps 10
                                      # CUDA: full-size random SDXL (bench/gpu_check.sh)

The run goes through the worker's own engine call (``train_lora`` with a ``TrainingSpec``), so
the figures include what a training job pays inside the engine: loading, encoding the images,
the evaluation loss before and after, the steps and writing the LoRA. steps/s is measured
over the steps after the first two (warm-up); peak memory is ``torch.cuda.max_memory_allocated``
on CUDA, the process's peak RSS on CPU (a high-water mark that includes loading).
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    sys.exit("run it as a module from the repository root: python -m bench.training")

import argparse  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
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
from .engine_models import base_model  # noqa: E402

WARMUP_STEPS = 2


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="", help="cuda, cuda:1, cpu (default: best)")
    parser.add_argument("--steps", type=int, default=0, help="default: 60 CPU, 10 CUDA")
    parser.add_argument("--resolution", type=int, default=0, help="default: 64 CPU, 1024 CUDA")
    parser.add_argument("--rank", type=int, default=0, help="default: 4 CPU, 16 CUDA")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--train-text-encoder", action="store_true")
    parser.add_argument(
        "--gradient-checkpointing",
        choices=("auto", "on", "off"),
        default="auto",
        help="auto: on for CUDA",
    )
    parser.add_argument("--models-dir", type=Path, default=None)
    add_output_argument(parser)
    return parser.parse_args(argv)


def training_images(count: int, side: int) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)) for _ in range(count)
    ]


def main(argv=None) -> int:
    from gpu_worker.engine.devices import select_device
    from gpu_worker.engine.training.spec import TrainingImage, TrainingSpec
    from gpu_worker.engine.training.trainer import train_lora

    args = parse_args(argv)
    profile = select_device(args.device or None)
    cuda = profile.device.startswith("cuda")
    steps = args.steps or (10 if cuda else 60)
    resolution = args.resolution or (1024 if cuda else 64)
    rank = args.rank or (16 if cuda else 4)
    kind = "cuda" if cuda else "cpu"
    models_dir = args.models_dir or REPO_ROOT / "var" / "bench-models" / kind
    models_dir.mkdir(parents=True, exist_ok=True)
    if not cuda:
        torch.set_num_threads(max(1, torch.get_num_threads()))

    started = time.perf_counter()
    model = base_model(profile.device, models_dir)
    build_s = time.perf_counter() - started
    checkpointing = {"auto": None, "on": True, "off": False}[args.gradient_checkpointing]
    spec = TrainingSpec(
        model=str(model),
        images=tuple(
            TrainingImage(image, f"a photo of zkx person {index}")
            for index, image in enumerate(training_images(args.images, resolution))
        ),
        rank=rank,
        alpha=float(rank),
        learning_rate=1e-4 if cuda else 5e-3,
        steps=steps,
        resolution=resolution,
        batch_size=args.batch_size,
        seed=0,
        train_text_encoder=args.train_text_encoder,
        gradient_checkpointing=checkpointing,
    )
    stamps: list[float] = []
    if cuda:
        torch.cuda.reset_peak_memory_stats(profile.device)
    run_started = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        result = train_lora(
            spec,
            Path(work) / "bench.safetensors",
            profile=profile,
            on_step=lambda report: stamps.append(time.perf_counter()),
        )
        lora_bytes = (Path(work) / "bench.safetensors").stat().st_size
    total_s = time.perf_counter() - run_started
    measured = stamps[WARMUP_STEPS:] if len(stamps) > WARMUP_STEPS + 1 else stamps
    steps_per_s = (len(measured) - 1) / (measured[-1] - measured[0]) if len(measured) > 1 else 0.0
    if cuda:
        peak_mib = torch.cuda.max_memory_allocated(profile.device) / 2**20
        peak_kind = "cuda max_memory_allocated"
    else:
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        peak_kind = "process peak RSS"
    manifest = result.manifest
    figures = {
        "steps": steps,
        "steps_per_s": round(steps_per_s, 3),
        "s_per_step": round(1 / steps_per_s, 4) if steps_per_s else None,
        "total_s": round(total_s, 2),
        "overhead_s": round(total_s - steps / steps_per_s, 2) if steps_per_s else None,
        "peak_memory_mib": round(peak_mib, 1),
        "peak_memory_kind": peak_kind,
        "initial_loss": round(result.initial_loss, 5),
        "final_loss": round(result.final_loss, 5),
        "lora_bytes": lora_bytes,
        "build_s": round(build_s, 1),
    }
    settings = {
        "device": profile.name,
        "model": "full-size random SDXL" if cuda else "tiny demo SDXL",
        "resolution": resolution,
        "rank": rank,
        "batch_size": args.batch_size,
        "images": args.images,
        "train_text_encoder": args.train_text_encoder,
        "precision": manifest["precision"],
        "gradient_checkpointing": manifest["gradient_checkpointing"],
        "optimizer": manifest["optimizer"],
    }
    print_table(["setting", "value"], list(settings.items()))
    print()
    print_table(["figure", "value"], [(k, v) for k, v in figures.items() if v is not None])
    name = f"training-{kind}"
    results = {
        "benchmark": "training",
        "command": " ".join(["python -m bench.training", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "settings": settings,
        "figures": figures,
        "loss_history": result.loss_history,
        "step_seconds": [round(b - a, 4) for a, b in zip(stamps, stamps[1:], strict=False)],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = write_results(args.out, name, results)
    fig, (loss_ax, time_ax) = new_figure(width=10, height=4, ncols=2)
    loss_ax.plot(range(1, len(result.loss_history) + 1), result.loss_history)
    loss_ax.set(title="training loss per step", xlabel="step", ylabel="loss")
    time_ax.plot(range(2, len(stamps) + 1), results["step_seconds"])
    time_ax.set(title=f"seconds per step ({settings['device']})", xlabel="step", ylabel="s")
    save_figure(fig, args.out, name)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
