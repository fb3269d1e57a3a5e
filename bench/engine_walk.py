"""How one batch walks through the engine's files: for each file, how many times control
enters it from another engine file. Calls within a file, and calls back into the engine from
diffusers (step callbacks), are not entries; a context manager's body counts for its caller.

    python -m bench.engine_walk [--models-dir var/bench-models/compile]

The batch: two jobs with a LoRA and a reference image each, one step, on the tiny models.
Writes engine_walk.json under --out.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from bench.common import add_output_argument, machine, print_table, write_results

_PASSTHROUGH = ("contextlib.py",)  # a `with` statement's frames: the caller is the one above


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=Path("var/bench-models/compile"))
    add_output_argument(parser)
    return parser.parse_args(argv)


def count_entries(engine_dir: Path, call) -> Counter:
    """Run ``call()`` and count, per engine file, the calls into it from another engine file."""
    root = str(engine_dir.resolve())
    entries: Counter = Counter()

    def caller_file(frame) -> str:
        frame = frame.f_back
        while frame is not None and frame.f_code.co_filename.endswith(_PASSTHROUGH):
            frame = frame.f_back
        return frame.f_code.co_filename if frame is not None else ""

    def profile(frame, event, arg):
        if event != "call":
            return
        callee = frame.f_code.co_filename
        if not callee.startswith(root):
            return
        caller = caller_file(frame)
        if caller.startswith(root) and caller != callee:
            entries[str(Path(callee).relative_to(root))] += 1

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return entries


def main(argv=None) -> dict:
    args = parse_args(argv)
    import torch

    import gpu_worker.engine
    from gpu_worker.engine.batching import BatchMember
    from gpu_worker.engine.config import EngineConfig
    from gpu_worker.engine.devices import DeviceProfile
    from gpu_worker.engine.generate import Engine
    from gpu_worker.engine.spec import GenerationSpec, LoraSpec
    from gpu_worker.engine.tiny_models import build_tiny_models

    torch.set_num_threads(1)
    models = build_tiny_models(args.models_dir)
    engine = Engine(
        DeviceProfile("cpu", torch.float32), EngineConfig(ip_adapter=str(models["ip_adapter"]))
    )
    from PIL import Image

    members = [
        BatchMember(
            GenerationSpec(
                model=str(models["sdxl"]),
                prompt=f"a lighthouse {index}",
                seeds=(index,),
                width=64,
                height=64,
                steps=1,
                loras=(LoraSpec(str(models["lora_a"]), 0.8),),
                ip_adapter_images=(Image.new("RGB", (64, 64), (40 * index, 90, 160)),),
            )
        )
        for index in range(2)
    ]
    engine.generate_batch(members)  # load everything first: the walk of a warm batch
    engine_dir = Path(gpu_worker.engine.__file__).parent
    entries = count_entries(engine_dir, lambda: engine.generate_batch(members))
    rows = sorted(entries.items(), key=lambda item: (-item[1], item[0]))
    print_table(["file", "entries"], rows)
    results = {
        "benchmark": "engine_walk",
        "machine": machine(),
        "engine": str(engine_dir),
        "definitions": {"entries": "calls into the file from another engine file"},
        "entries": dict(rows),
        "max_entries": max(entries.values()),
    }
    print("wrote", write_results(args.out, "engine_walk", results))
    return results


if __name__ == "__main__":
    main()
