"""Engine speed and memory: seconds per image and peak memory per quality preset, with and
without ControlNet, IP-Adapter and two LoRAs; LoRA switch time; pipeline load time;
images/hour by batch size.

    python -m bench.engine            # CUDA: full-size random SDXL at 1024x1024
                                      # CPU: the tiny model at 128x128 (tests the script)

Everything goes through the worker's own API (``Engine.warm``/``Engine.generate`` with a
``GenerationSpec``), so the figures include what a job pays inside the engine. Each row runs
once unmeasured (loading its attachments), then ``--repeats`` times; the median is reported.
Peak memory: ``torch.cuda.max_memory_allocated`` per row on CUDA; on CPU the process's peak
RSS so far (a high-water mark, not per row). A feature the engine lacks is reported as
"unavailable" with the reason, not a failure.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    sys.exit("run it as a module from the repository root: python -m bench.engine")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import gc  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from PIL import Image  # noqa: E402

from .common import (  # noqa: E402
    REPO_ROOT,
    add_output_argument,
    machine,
    new_figure,
    print_table,
    save_figure,
    write_results_and_figure,
)
from .engine_models import base_model, build_attachments  # noqa: E402

PRESETS = ("draft", "standard", "high", "ultra")
VARIANTS = ("base", "controlnet", "ip_adapter", "two_loras", "all")
NEEDS = {  # variant -> (spec fields, attachments) it needs
    "base": ((), ()),
    "controlnet": (("controls",), ("controlnet",)),
    "ip_adapter": (("ip_adapter", "ip_adapter_images"), ("ip_adapter",)),
    "two_loras": (("loras",), ("lora_a", "lora_b")),
    "all": (
        ("controls", "ip_adapter", "ip_adapter_images", "loras"),
        ("controlnet", "ip_adapter", "lora_a", "lora_b"),
    ),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="", help="cuda, cuda:1, cpu (default: best)")
    parser.add_argument("--size", type=int, default=0, help="side px (1024 CUDA, 128 CPU)")
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 2, 4, 8])
    parser.add_argument("--repeats", type=int, default=0, help="measured runs (3 CUDA, 1 CPU)")
    parser.add_argument(
        "--models-dir", type=Path, default=None, help="built weights (var/bench-models/<dev>)"
    )
    add_output_argument(parser)
    return parser.parse_args(argv)


class Bench:
    def __init__(self, args):
        from gpu_worker.engine.devices import select_device

        self.profile = select_device(args.device or None)
        self.cuda = self.profile.device.startswith("cuda")
        self.size = args.size or (1024 if self.cuda else 128)
        self.repeats = args.repeats or (3 if self.cuda else 1)
        kind = "cuda" if self.cuda else "cpu"
        self.models_dir = args.models_dir or REPO_ROOT / "var" / "bench-models" / kind
        self.models_dir.mkdir(parents=True, exist_ok=True)
        self.spec_fields = {f.name for f in dataclasses.fields(_spec_class())}
        self.base: Path | None = None
        self.attachments: dict[str, object] = {}
        self.engine = None

    # --- setup --------------------------------------------------------------------------
    def prepare(self) -> dict:
        started = time.perf_counter()
        self.base = base_model(self.profile.device, self.models_dir)
        self.attachments = build_attachments(self.base, self.models_dir, full_size=self.cuda)
        build_s = time.perf_counter() - started
        self.engine = self._new_engine()
        first_load_ms = self.engine.warm(str(self.base))
        return {"build_s": build_s, "first_load_ms": first_load_ms}

    def _new_engine(self):
        from gpu_worker.engine.generate import Engine

        try:
            from gpu_worker.engine.config import EngineConfig
            from gpu_worker.engine.spec import SpecLimits

            # The tiny model runs below the production minimum side.
            config = EngineConfig(limits=SpecLimits(min_side=64))
        except (ImportError, TypeError):
            config = None
        return Engine(self.profile, config) if config else Engine(self.profile)

    # --- specs --------------------------------------------------------------------------
    def missing(self, variant: str) -> str | None:
        fields, attachments = NEEDS[variant]
        for field in fields:
            if field not in self.spec_fields:
                return f"GenerationSpec has no '{field}' field"
        for name in attachments:
            built = self.attachments.get(name)
            if isinstance(built, Exception) or built is None:
                return f"{name} could not be built: {built}"
        return None

    def spec(self, variant: str, steps: int, guidance: float, batch: int = 1):
        from gpu_worker.engine import spec as spec_module

        extra: dict = {}
        if variant in ("controlnet", "all"):
            extra["controls"] = (
                spec_module.ControlSpec(
                    image=_gradient(self.size),
                    model=str(self.attachments["controlnet"]),
                    kind="canny",
                    scale=0.8,
                ),
            )
        if variant in ("ip_adapter", "all"):
            extra["ip_adapter"] = str(self.attachments["ip_adapter"])
            extra["ip_adapter_images"] = (_gradient(224).rotate(90),)
            extra["ip_adapter_scale"] = 0.6
        if variant in ("two_loras", "all"):
            extra["loras"] = (
                spec_module.LoraSpec(str(self.attachments["lora_a"]), 0.8),
                spec_module.LoraSpec(str(self.attachments["lora_b"]), 0.6),
            )
        return spec_module.GenerationSpec(
            model=str(self.base),
            prompt="a lighthouse at dusk, ink sketch",
            negative_prompt="blurry",
            seeds=tuple(range(1, batch + 1)),
            width=self.size,
            height=self.size,
            steps=steps,
            guidance_scale=guidance,
            **extra,
        )

    # --- measurements -------------------------------------------------------------------
    def measure(self, spec) -> dict:
        self.engine.generate(spec)  # unmeasured: loads attachments, fills caches
        seconds, peaks = [], []
        for _ in range(self.repeats):
            self._reset_peak()
            started = time.perf_counter()
            self.engine.generate(spec)
            self._sync()
            seconds.append(time.perf_counter() - started)
            peaks.append(self._peak())
        median = statistics.median(seconds)
        return {
            "seconds": median,
            "seconds_per_image": median / spec.num_images,
            "images_per_hour": 3600 * spec.num_images / median,
            "peak_memory_bytes": max(peaks),
        }

    def preset_rows(self, presets, variants) -> list[dict]:
        from generation.presets import QUALITY_PRESETS

        rows = []
        for preset in presets:
            quality = QUALITY_PRESETS[preset]
            for variant in variants:
                row = {
                    "preset": preset,
                    "variant": variant,
                    "steps": quality.steps,
                    "guidance_scale": quality.guidance_scale,
                    "size": self.size,
                }
                rows.append(
                    {
                        **row,
                        **self._attempt(
                            variant,
                            lambda q=quality, v=variant: self.measure(
                                self.spec(v, q.steps, q.guidance_scale)
                            ),
                        ),
                    }
                )
        return rows

    def batch_rows(self, sizes) -> list[dict]:
        from generation.presets import QUALITY_PRESETS

        quality = QUALITY_PRESETS["standard"]
        rows = []
        for batch in sizes:
            result = self._attempt(
                "base",
                lambda b=batch: self.measure(
                    self.spec("base", quality.steps, quality.guidance_scale, batch=b)
                ),
            )
            rows.append({"batch_size": batch, "steps": quality.steps, "size": self.size, **result})
        return rows

    def lora_switch(self) -> dict:
        reason = self.missing("two_loras") or self._missing_attachment("lora_c")
        if reason:
            return {"status": "unavailable", "reason": reason}
        try:
            from gpu_worker.engine.lora import resolve_lora
            from gpu_worker.engine.spec import LoraSpec

            warm, _ = self.engine.pipelines.get(str(self.base))
            activate = warm.loras.activate
        except (ImportError, AttributeError) as exc:
            return {"status": "unavailable", "reason": f"engine has no LoRA cache: {exc}"}
        a, b, c = (
            resolve_lora(LoraSpec(str(self.attachments[n]), w))
            for n, w in (("lora_a", 0.8), ("lora_b", 0.6), ("lora_c", 0.7))
        )
        load_ms = self._timed(lambda: activate(warm.pipeline, [c]))  # read from disk
        sets = [[a], [b], [a, b], [], [b, a], [c]]
        switches = [self._timed(lambda s=s: activate(warm.pipeline, s)) for s in sets * 3]
        activate(warm.pipeline, [])
        return {
            "status": "ok",
            "load_ms": load_ms,
            "switch_ms": statistics.median(switches),
            "switch_max_ms": max(switches),
            "switches": len(switches),
        }

    def reload(self) -> dict:
        """Pipeline load from the local directory in a fresh engine (CUDA initialised, files
        in the page cache: the time a worker restart pays)."""
        self.engine = None
        gc.collect()
        if self.cuda:
            torch.cuda.empty_cache()
        engine = self._new_engine()
        started = time.perf_counter()
        load_ms = engine.warm(str(self.base))
        wall_ms = (time.perf_counter() - started) * 1000
        self.engine = engine
        return {"load_ms": load_ms, "wall_ms": wall_ms}

    # --- helpers ------------------------------------------------------------------------
    def _attempt(self, variant: str, run) -> dict:
        reason = self.missing(variant)
        if reason:
            return {"status": "unavailable", "reason": reason}
        try:
            return {"status": "ok", **run()}
        except Exception as exc:  # a failing feature is a row, not the end of the bench
            return {"status": "unavailable", "reason": f"{type(exc).__name__}: {exc}"[:300]}

    def _missing_attachment(self, name: str) -> str | None:
        built = self.attachments.get(name)
        return None if isinstance(built, Path) else f"{name} could not be built: {built}"

    def _timed(self, call) -> float:
        started = time.perf_counter()
        call()
        self._sync()
        return (time.perf_counter() - started) * 1000

    def _sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def _reset_peak(self) -> None:
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()

    def _peak(self) -> int:
        if self.cuda:
            return torch.cuda.max_memory_allocated()
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _spec_class():
    from gpu_worker.engine.spec import GenerationSpec

    return GenerationSpec


def _gradient(side: int) -> Image.Image:
    row = bytes(int(255 * x / max(side - 1, 1)) for x in range(side))
    return Image.frombytes("L", (side, side), row * side).convert("RGB")


def device_description(bench: Bench) -> dict:
    info = {"device": bench.profile.name, "torch": torch.__version__}
    if bench.cuda:
        props = torch.cuda.get_device_properties(torch.device(bench.profile.device))
        info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1))
    info["model"] = "full-size SDXL base, random weights" if bench.cuda else "tiny SDXL"
    return info


def plot(results: dict, out_dir: Path, name: str) -> Path:
    fig, (left, right) = new_figure(12, 4.5, ncols=2)
    rows = [r for r in results["presets"] if r["status"] == "ok"]
    presets = list(dict.fromkeys(r["preset"] for r in rows))
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    width = 0.8 / max(len(variants), 1)
    for index, variant in enumerate(variants):
        values = {r["preset"]: r["seconds_per_image"] for r in rows if r["variant"] == variant}
        left.bar(
            [p + index * width for p in range(len(presets))],
            [values.get(preset, 0) for preset in presets],
            width,
            label=variant,
        )
    left.set_xticks([p + 0.4 - width / 2 for p in range(len(presets))], presets)
    left.set_ylabel("seconds per image")
    left.set_title(f"{results['device']['model']}, {results['size']}px")
    left.legend(fontsize=8)
    batches = [r for r in results["batches"] if r["status"] == "ok"]
    right.plot(
        [r["batch_size"] for r in batches], [r["images_per_hour"] for r in batches], marker="o"
    )
    right.set_xticks([r["batch_size"] for r in batches])
    right.set_xlabel("batch size (standard preset)")
    right.set_ylabel("images / hour")
    right.set_title(results["device"].get("gpu") or results["device"]["device"])
    return save_figure(fig, out_dir, name)


def quiet_libraries() -> None:
    """Only the table on the console: no progress bars, no library warnings."""
    import warnings

    import diffusers.utils.logging as diffusers_logging
    import transformers.utils.logging as transformers_logging

    warnings.filterwarnings("ignore")
    for library in (diffusers_logging, transformers_logging):
        library.set_verbosity_error()
        library.disable_progress_bar()


def main(argv=None) -> dict:
    args = parse_args(argv)
    quiet_libraries()
    bench = Bench(args)
    setup = bench.prepare()
    presets = bench.preset_rows(args.presets, args.variants)
    batches = bench.batch_rows(args.batch_sizes)
    lora = bench.lora_switch()
    reload = bench.reload()
    name = "engine-cuda" if bench.cuda else "engine-cpu"
    results = {
        "benchmark": "engine",
        "command": "python -m bench.engine " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "device": device_description(bench),
        "size": bench.size,
        "repeats": bench.repeats,
        "setup": setup,
        "load": {"first_load_ms": setup["first_load_ms"], "reload_ms": reload["load_ms"]},
        "presets": presets,
        "batches": batches,
        "lora": lora,
        "unavailable": sorted(
            {r["variant"] + ": " + r["reason"] for r in presets if r["status"] != "ok"}
        ),
    }
    report(results)
    write_results_and_figure(args.out, name, results, lambda data, out: plot(data, out, name))
    return results


def report(results: dict) -> None:
    gib = 2**30

    def memory(row):
        return f"{row['peak_memory_bytes'] / gib:.2f}" if row["status"] == "ok" else "-"

    device = results["device"]
    print(
        f"{device['model']} on {device.get('gpu') or device['device']}, "
        f"{results['size']}x{results['size']}, median of {results['repeats']}"
    )
    print_table(
        ["preset", "steps", "variant", "s/image", "peak GiB", "status"],
        [
            (
                r["preset"],
                r["steps"],
                r["variant"],
                r["seconds_per_image"] if r["status"] == "ok" else "-",
                memory(r),
                r["status"] if r["status"] == "ok" else "unavailable",
            )
            for r in results["presets"]
        ],
    )
    print()
    print_table(
        ["batch", "s/batch", "s/image", "images/hour", "peak GiB"],
        [
            (
                r["batch_size"],
                r.get("seconds", "-"),
                r.get("seconds_per_image", "-"),
                r.get("images_per_hour", "-"),
                memory(r),
            )
            for r in results["batches"]
        ],
    )
    lora, load = results["lora"], results["load"]
    print(
        f"\npipeline load: first {load['first_load_ms']} ms (process cold), "
        f"reload {load['reload_ms']} ms (local dir, page cache warm)"
    )
    if lora["status"] == "ok":
        print(
            f"LoRA: load {lora['load_ms']:.1f} ms, switch median {lora['switch_ms']:.1f} ms "
            f"(max {lora['switch_max_ms']:.1f}, {lora['switches']} switches)"
        )
    else:
        print(f"LoRA switch: unavailable ({lora['reason']})")
    for reason in results["unavailable"]:
        print(f"unavailable: {reason}")


if __name__ == "__main__":
    main()
