"""Load time of each published layout (tiny shapes, real names) through the production loaders,
by hub id from an offline Hugging Face cache laid out as a download leaves it.

    python -m bench.layout_loads [--out bench/results]

Builds the tiny models and their published layouts in a scratch folder, then times, in one
process, a cold-cache load of each through its loader (what a worker pays once per model, the
hub resolution included; files are in the OS page cache). CPU, fp32 (fp16 for the variant
row). Writes layout-loads.json.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    sys.exit("run it as a module from the repository root: python -m bench.layout_loads")

import argparse  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from .common import add_output_argument, machine, print_table, write_results  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_output_argument(parser)
    args = parser.parse_args(argv)
    import torch

    from gpu_worker.engine.config import EngineConfig
    from gpu_worker.engine.controlnet import ControlNetCache
    from gpu_worker.engine.devices import DeviceProfile
    from gpu_worker.engine.loading import PipelineCache, load_vae
    from gpu_worker.engine.lora import resolve_lora
    from gpu_worker.engine.preprocessors.depth import load_depth_model
    from gpu_worker.engine.preprocessors.tiny_depth import build_tiny_depth_model
    from gpu_worker.engine.published_layouts import (
        IP_ADAPTER_FILES,
        LORA_FILES,
        REPOS,
        SDXL_SINGLE_FILE,
        build_hub_cache,
    )
    from gpu_worker.engine.spec import LoraSpec
    from gpu_worker.engine.tiny_models import build_tiny_models

    torch.set_num_threads(1)
    cpu = DeviceProfile("cpu", torch.float32)
    half = DeviceProfile("cpu", torch.float16)
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        tiny = build_tiny_models(Path(work) / "tiny")
        tiny["depth"] = build_tiny_depth_model(Path(work) / "tiny" / "depth")
        os.environ.update(HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(build_hub_cache(tiny, Path(work))))
        build_s = time.perf_counter() - started
        sdxl, ip = REPOS["sdxl"], REPOS["ip_adapter"]
        base = PipelineCache(cpu).get(sdxl)[0].pipeline  # the base for the IP-Adapter rows
        loads = {
            "sdxl base, fp16 files only (hub id)": lambda: PipelineCache(cpu).get(sdxl),
            "sdxl single file (hub id + config repo)": lambda: PipelineCache(
                cpu, EngineConfig(single_file_config=sdxl)
            ).get(f"{sdxl}/{SDXL_SINGLE_FILE}"),
            "fp16-fix VAE": lambda: load_vae(REPOS["vae_fp16_fix"], cpu),
            "xinsir Union ControlNet": lambda: ControlNetCache(cpu).get(REPOS["controlnet_union"]),
            "xinsir Union ProMax file": lambda: ControlNetCache(cpu).get(
                f"{REPOS['controlnet_union']}/diffusion_pytorch_model_promax.safetensors"
            ),
            "diffusers canny ControlNet (fp16 variant)": lambda: ControlNetCache(half).get(
                REPOS["controlnet_canny"]
            ),
            **{
                f"h94 {name} IP-Adapter": (lambda path=path: _attach(base, f"{ip}/{path}"))
                for name, path in IP_ADAPTER_FILES.items()
            },
            **{
                f"LoRA {name.removeprefix('lora_')} (find, check header, sha256)": (
                    lambda name=name: resolve_lora(
                        LoraSpec(f"{REPOS[name]}/{LORA_FILES[name]}", 0.8)
                    )
                )
                for name in LORA_FILES
            },
            "DPT depth model": lambda: load_depth_model(REPOS["depth"], "cpu"),
        }
        rows = []
        for name, load in loads.items():
            started = time.perf_counter()
            load()
            first = time.perf_counter() - started
            rows.append({"layout": name, "first_load_ms": round(first * 1000, 1)})
    print_table(["layout", "first load ms"], [(r["layout"], r["first_load_ms"]) for r in rows])
    results = {
        "benchmark": "layout_loads",
        "command": "python -m bench.layout_loads",
        "machine": machine(),
        "build_s": round(build_s, 2),
        "rows": rows,
    }
    print(f"\nwrote {write_results(args.out, 'layout-loads', results)}")
    return 0


def _attach(pipeline, weights: str) -> None:
    """What attaching an IP-Adapter reads: the adapter and the encoder that fits it."""
    from gpu_worker.engine.ip_adapter import locate_ip_adapter

    files = locate_ip_adapter(weights)
    pipeline.load_ip_adapter(
        str(files.root),
        subfolder=files.subfolder,
        weight_name=files.weights.name,
        image_encoder_folder=files.encoder_folder,
        local_files_only=True,
    )
    pipeline.unload_ip_adapter()


if __name__ == "__main__":
    sys.exit(main())
