"""The GPU check: the engine alone (no Django, Redis or S3) on full-size random SDXL built
directly in GPU memory, every section time-boxed, each section's JSON written as it ends.

    python -m bench.gpu_check [--out bench/results/gpu] [--sections speed,fp8]   # CUDA
    python -m bench.gpu_check --dry-run --out DIR     # the same code on CPU, tiny models

``bash bench/gpu_check.sh`` is the way to run it (it installs the carried wheels first).
Random weights: compute and memory are SDXL base's, the images are noise. Sections and their
files (with ``gpu_check.log`` from the shell script: 8 files in all):

- environment.json: GPU, driver, library versions.
- speed.json: s/image at 1024x1024, 30 steps, CFG, batch 1/4/8, eager, fp16 and bf16; peak
  GPU memory per row; VAE decode time (fp32 upcast and fp16); images/hour at the best
  batch; images/s at 20 steps at the largest batch.
- attachments.json: Union ControlNet and IP-Adapter (ViT-H) overhead at batch 1.
- upscale.json: 4x tiled upscale 1024 -> 4096.
- training.json: LoRA training steps/s (rank 16, 1024 px, bf16, gradient checkpointing).
- fp8.json: fp8 UNet (torchao) against bf16: speed and pixel difference on the same seeds.
- compiled.json: warm-up compile time and graphs per served bucket, compiled s/image at
  batch 1/4/8, graphs compiled after warm-up, LoRA switch (hot-swap) time.

Each section runs under its own time limit (SIGALRM); one that fails or runs out writes
what it measured so far with ``error``/``timed_out`` and the next one starts.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    sys.exit("run it as a module from the repository root: python -m bench.gpu_check")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402

from .common import machine  # noqa: E402 - standard library only: no Django

MODEL = "random:sdxl-base"  # the name the in-memory pipeline is kept under in the engine
UNION = "random:controlnet-union"
# Seconds per section on an H200 (in run order); with installs and imports under 8 minutes.
LIMITS = {
    "environment": 10,
    "speed": 110,
    "attachments": 45,
    "upscale": 35,
    "training": 35,
    "fp8": 45,
    "compiled": 120,
}
# The dry run proves the code runs end to end, not how fast: on a busy CPU no row may be
# skipped for time, so its sections get a box far beyond their ~2-5 s.
DRY_LIMIT_S = 600
# What the GPU hosts lack and no section needs: the dry run hides them, so it proves the engine
# and this script run without them (and without Django).
HOST_LACKS = ("django", "cv2", "mediapipe", "insightface", "onnxruntime", "dlib")


def hide_modules(names=HOST_LACKS) -> None:
    """Make ``names`` unimportable and unavailable to probes, as if not installed (a None in
    sys.modules: import raises ModuleNotFoundError, importlib.util.find_spec returns None)."""
    for name in names:
        if name in sys.modules and sys.modules[name] is not None:
            raise RuntimeError(f"{name} was imported before the dry run could hide it")
        sys.modules[name] = None


@dataclass(frozen=True)
class Shape:
    """What a section runs: full size on the GPU, tiny on the CPU for the dry run."""

    dry: bool
    device: str
    size: int
    steps: int
    fast_steps: int  # "20 steps, batched"
    batches: tuple[int, ...]
    upscale_source: int
    tile: int
    overlap: int
    train_steps: int
    train_rank: int
    train_images: int
    warmup_steps: int  # a pass of each new shape before timing it (0: none, the dry run)

    @property
    def cuda(self) -> bool:
        return self.device.startswith("cuda")


FULL = Shape(False, "cuda", 1024, 30, 20, (1, 4, 8), 1024, 1024, 128, 10, 16, 2, 2)
DRY = Shape(True, "cpu", 64, 2, 1, (1, 2), 32, 80, 32, 2, 4, 1, 0)


class SectionTimeout(Exception):
    pass


@contextlib.contextmanager
def time_box(seconds: float):
    """Raise SectionTimeout in the main thread after ``seconds``."""

    def expire(signum, frame):
        raise SectionTimeout(f"time box of {seconds:.0f} s reached")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Section:
    name: str
    limit_s: float
    started: float = field(default_factory=time.perf_counter)
    data: dict = field(default_factory=dict)

    def left_s(self) -> float:
        return self.limit_s - (time.perf_counter() - self.started)

    def fits(self, estimate_s: float) -> bool:
        """Whether something of ``estimate_s`` still fits (else it is recorded as skipped)."""
        return estimate_s < self.left_s()


def write_json(out: Path, name: str, data: dict) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    partial = path.with_suffix(".json.part")
    partial.write_text(json.dumps(data, indent=2, default=str) + "\n")
    partial.replace(path)  # a reader never sees half a file
    return path


# --- models -----------------------------------------------------------------------------------


class Models:
    """Builds the pipelines and attachments each section needs, in memory where it can."""

    def __init__(self, shape: Shape, work: Path):
        self.shape = shape
        self.work = work
        self._tiny_dir: Path | None = None

    def pipeline(self, dtype):
        """SDXL base architecture with random weights (tiny in the dry run), on the device."""
        if not self.shape.dry:
            from gpu_worker.engine.full_size import build_full_size_pipeline

            return build_full_size_pipeline(self.shape.device, dtype)
        from diffusers import StableDiffusionXLPipeline

        return StableDiffusionXLPipeline.from_pretrained(self._tiny(), torch_dtype=dtype)

    def _tiny(self) -> Path:
        """The tiny SDXL: ``$GPU_CHECK_TINY_SDXL`` when it names one already built (the test
        passes the demo model's), else built once in the scratch folder."""
        if self._tiny_dir is None:
            from gpu_worker.engine.tiny_models import ensure_tiny_sdxl

            given = Path(os.environ.get("GPU_CHECK_TINY_SDXL", "") or self.work / "none")
            if (given / "model_index.json").is_file():
                self._tiny_dir = given
            else:
                self._tiny_dir = ensure_tiny_sdxl(self.work / "tiny")
        return self._tiny_dir

    def union_controlnet(self, unet, dtype):
        """A Union ControlNet from the UNet's encoder, built on the device."""
        import torch
        from diffusers import ControlNetUnionModel

        config = unet.config
        width = config.block_out_channels[0]  # xinsir's transformer width: SDXL's first block
        with torch.device(self.shape.device):
            model = ControlNetUnionModel(
                in_channels=config.in_channels,
                down_block_types=config.down_block_types,
                block_out_channels=config.block_out_channels,
                layers_per_block=config.layers_per_block,
                attention_head_dim=config.attention_head_dim,
                use_linear_projection=config.use_linear_projection,
                addition_embed_type=config.addition_embed_type,
                addition_time_embed_dim=config.addition_time_embed_dim,
                transformer_layers_per_block=config.transformer_layers_per_block,
                projection_class_embeddings_input_dim=config.projection_class_embeddings_input_dim,
                cross_attention_dim=config.cross_attention_dim,
                norm_num_groups=config.norm_num_groups,
                num_trans_channel=width,
                num_trans_head=8,
                num_proj_channel=width,
            )
        return model.to(self.shape.device, dtype)

    def ip_adapter(self, unet) -> Path:
        """A plain IP-Adapter with a ViT-H image encoder (tiny in the dry run), as h94 lays out
        the vit-h adapter: sdxl_models/<weights> and models/image_encoder."""
        import torch
        from safetensors.torch import save_file
        from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

        from gpu_worker.engine.tiny_attachments import TINY_VISION

        from .engine_models import VIT_H_VISION

        root = self.work / "ip-adapter"
        vision = TINY_VISION if self.shape.dry else VIT_H_VISION
        with torch.device(self.shape.device):
            encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(num_channels=3, **vision))
        encoder.to(torch.float16 if self.shape.cuda else torch.float32).save_pretrained(
            root / "models/image_encoder", safe_serialization=True
        )
        del encoder
        generator = torch.Generator(self.shape.device).manual_seed(7)
        cross = unet.config.cross_attention_dim

        def randn(*shape_):
            return torch.randn(*shape_, generator=generator, device=self.shape.device) * 0.02

        tensors = {
            "image_proj.proj.weight": randn(4 * cross, vision["projection_dim"]),
            "image_proj.proj.bias": torch.zeros(4 * cross),
            "image_proj.norm.weight": torch.ones(cross),
            "image_proj.norm.bias": torch.zeros(cross),
        }
        names = [n for n in unet.attn_processors if n.endswith("attn2.processor")]
        for index, name in enumerate(names):
            hidden = unet.get_submodule(name.removesuffix(".processor")).to_k.out_features
            for kind in ("to_k_ip", "to_v_ip"):
                tensors[f"ip_adapter.{2 * index + 1}.{kind}.weight"] = randn(hidden, cross)
        weights = root / "sdxl_models/ip-adapter_sdxl_vit-h.safetensors"
        weights.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.half().contiguous().cpu() for k, v in tensors.items()}, weights)
        return weights

    def lora(self, unet, name: str, seed: int) -> Path:
        """A UNet LoRA (rank 16; 4 in the dry run) on every attention projection."""
        import torch
        from safetensors.torch import save_file

        path = self.work / f"{name}.safetensors"
        rank = self.shape.train_rank
        generator = torch.Generator(self.shape.device).manual_seed(seed)
        tensors = {}
        for module_name, module in unet.named_modules():
            # Named as a clean UNet names them: hot-swap slots wrap each projection in a peft
            # layer whose ``base_layer`` is the Linear, beside the slots' own lora_A/B Linears.
            if not isinstance(module, torch.nn.Linear) or ".lora_" in module_name:
                continue
            module_name = module_name.removesuffix(".base_layer")
            if ".attn" in module_name:
                if "_ip" in module_name or "to_qkv" in module_name or "to_kv" in module_name:
                    continue
                down = torch.randn(
                    rank, module.in_features, generator=generator, device=self.shape.device
                )
                up = torch.randn(
                    module.out_features, rank, generator=generator, device=self.shape.device
                )
                tensors[f"unet.{module_name}.lora_A.weight"] = (
                    down / module.in_features**0.5
                ).half()
                tensors[f"unet.{module_name}.lora_B.weight"] = (up * 0.01).half()
        save_file({k: v.contiguous().cpu() for k, v in tensors.items()}, path)
        return path


# --- the engine -------------------------------------------------------------------------------


def new_engine(shape: Shape, dtype, pipeline=None, **config):
    """An engine on ``shape``'s device holding ``pipeline`` as MODEL (placed like a load)."""
    from gpu_worker.engine.config import EngineConfig
    from gpu_worker.engine.devices import DeviceProfile
    from gpu_worker.engine.generate import Engine
    from gpu_worker.engine.spec import SpecLimits

    config.setdefault("memory_profile", "large" if shape.cuda else "cpu")
    engine = Engine(
        DeviceProfile(shape.device, dtype),
        EngineConfig(limits=SpecLimits(min_side=32, max_upscale_side=4096), **config),
    )
    if pipeline is not None:
        engine.pipelines.adopt(MODEL, pipeline)
    return engine


def text_spec(shape: Shape, batch: int, steps: int | None = None, **extra):
    from gpu_worker.engine.spec import GenerationSpec

    return GenerationSpec(
        model=MODEL,
        prompt="a lighthouse at dusk, ink sketch",
        negative_prompt="blurry",
        seeds=tuple(range(1, batch + 1)),
        width=shape.size,
        height=shape.size,
        steps=steps or shape.steps,
        guidance_scale=5.0,  # CFG on: two UNet passes per step
        scheduler="euler",
        **extra,
    )


def warm_up(shape: Shape, engine, spec) -> None:
    """One short pass of ``spec``'s shape, so loading and kernel selection are not timed."""
    if shape.warmup_steps:
        from dataclasses import replace

        engine.generate(replace(spec, steps=shape.warmup_steps))


def sync(shape: Shape) -> None:
    if shape.cuda:
        import torch

        torch.cuda.synchronize()


def reset_peak(shape: Shape) -> None:
    if shape.cuda:
        import torch

        torch.cuda.reset_peak_memory_stats()


def peak_gib(shape: Shape) -> float | None:
    if not shape.cuda:
        return None
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**30, 2)


def timed(shape: Shape, run) -> tuple[float, object]:
    sync(shape)
    started = time.perf_counter()
    result = run()
    sync(shape)
    return time.perf_counter() - started, result


def free(shape: Shape) -> None:
    gc.collect()
    if shape.cuda:
        import torch

        torch.cuda.empty_cache()


def pattern(size: int, seed: int = 0):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


# --- sections ---------------------------------------------------------------------------------


def environment(section: Section, shape: Shape, models: Models) -> None:
    import torch

    versions = {}
    for name in ("torch", "diffusers", "transformers", "peft", "accelerate", "safetensors",
                 "huggingface_hub", "torchao", "numpy"):  # fmt: skip
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    section.data.update(machine=machine(), versions=versions, dry_run=shape.dry)
    if shape.cuda:
        props = torch.cuda.get_device_properties(0)
        section.data["gpu"] = {
            "name": props.name,
            "capability": list(torch.cuda.get_device_capability(0)),
            "memory_gib": round(props.total_memory / 2**30, 1),
            "cuda": torch.version.cuda,
        }
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            section.data["nvidia_smi"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,memory.total,driver_version,clocks.max.sm",
                 "--format=csv"], capture_output=True, text=True, timeout=20,
            ).stdout.strip().splitlines()  # fmt: skip


def speed(section: Section, shape: Shape, models: Models) -> None:
    """Eager s/image by batch and dtype, peak memory, VAE decode, images/hour."""
    import torch

    section.data.update(size=shape.size, steps=shape.steps, guidance_scale=5.0, rows=[])
    for dtype in (torch.float16, torch.bfloat16):
        name = str(dtype).removeprefix("torch.")
        engine = new_engine(shape, dtype, models.pipeline(dtype))
        last_per_step = None
        for batch in shape.batches:
            estimate = (last_per_step or 0) * batch * (shape.steps + 2)
            if last_per_step and not section.fits(estimate):
                section.data["rows"].append({"dtype": name, "batch": batch, "skipped": "time"})
                continue
            warm_up(shape, engine, text_spec(shape, batch))
            reset_peak(shape)
            seconds, result = timed(
                shape, lambda b=batch, e=engine: e.generate(text_spec(shape, b))
            )
            last_per_step = seconds / shape.steps / batch
            section.data["rows"].append({
                "dtype": name, "batch": batch, "s_per_image": round(seconds / batch, 4),
                "s_per_pass": round(seconds, 4), "denoise_s": result.inference_ms / 1000,
                "images_per_hour": round(batch / seconds * 3600), "peak_gib": peak_gib(shape),
            })  # fmt: skip
            print(section.data["rows"][-1], flush=True)
        if dtype == torch.float16:
            section.data["vae_decode"] = vae_decode(shape, engine)
            batch = shape.batches[-1]
            if section.fits((last_per_step or 0) * batch * shape.fast_steps * 1.2):
                seconds, _ = timed(
                    shape,
                    lambda e=engine, b=batch: e.generate(text_spec(shape, b, shape.fast_steps)),
                )
                section.data["fast_steps"] = {
                    "steps": shape.fast_steps, "batch": batch,
                    "images_per_s": round(batch / seconds, 3),
                }  # fmt: skip
        del engine
        free(shape)
    measured = [row for row in section.data["rows"] if "s_per_pass" in row]
    if measured:
        best = max(measured, key=lambda row: row["images_per_hour"])
        section.data["best"] = {k: best[k] for k in ("dtype", "batch", "images_per_hour")}


def vae_decode(shape: Shape, engine) -> dict:
    """Seconds to decode one image's latents: in fp32 (what SDXL's own VAE does, force_upcast)
    and in the pipeline's fp16 (what an fp16-safe VAE allows)."""
    import torch

    pipeline = engine.pipelines.get(MODEL)[0].pipeline
    vae = pipeline.vae
    side = shape.size // pipeline.vae_scale_factor
    latents = torch.randn(1, 4, side, side, device=shape.device)
    figures = {}
    for label, dtype in (("fp32_upcast", torch.float32), ("fp16", vae.dtype)):
        original = vae.dtype
        vae.to(dtype)
        with torch.inference_mode():
            vae.decode(latents.to(dtype) / vae.config.scaling_factor)  # warm-up
            seconds, _ = timed(
                shape, lambda d=dtype: vae.decode(latents.to(d) / vae.config.scaling_factor)
            )
        vae.to(original)
        figures[f"{label}_s"] = round(seconds, 4)
    return figures


def attachments(section: Section, shape: Shape, models: Models) -> None:
    """Union ControlNet and IP-Adapter overhead over a plain run, batch 1."""
    import torch

    from gpu_worker.engine.spec import ControlSpec

    dtype = torch.float16 if shape.cuda else torch.float32
    engine = new_engine(shape, dtype, models.pipeline(dtype))
    pipeline = engine.pipelines.get(MODEL)[0].pipeline
    engine.controlnets.adopt(UNION, models.union_controlnet(pipeline.unet, dtype))
    adapter = models.ip_adapter(pipeline.unet)
    control = ControlSpec(image=pattern(shape.size), model=UNION, kind="canny", scale=0.5)
    variants = {
        "plain": text_spec(shape, 1),
        "union_controlnet": text_spec(shape, 1, controls=(control,)),
        "ip_adapter": text_spec(
            shape, 1, ip_adapter=str(adapter), ip_adapter_images=(pattern(224, 1),)
        ),
    }  # fmt: skip
    rows = {}
    for name, spec in variants.items():
        warm_up(shape, engine, spec)  # loads and warms up this kind
        reset_peak(shape)
        seconds, _ = timed(shape, lambda s=spec, e=engine: e.generate(s))
        rows[name] = {"s_per_image": round(seconds, 4), "peak_gib": peak_gib(shape)}
        print(name, rows[name], flush=True)
    for name in ("union_controlnet", "ip_adapter"):
        rows[name]["overhead"] = round(
            rows[name]["s_per_image"] / rows["plain"]["s_per_image"] - 1, 3
        )
    section.data.update(steps=shape.steps, size=shape.size, rows=rows)
    del engine
    free(shape)


def upscale(section: Section, shape: Shape, models: Models) -> None:
    import torch

    from gpu_worker.engine.spec import GenerationSpec

    dtype = torch.float16 if shape.cuda else torch.float32
    engine = new_engine(shape, dtype, models.pipeline(dtype))
    side = shape.upscale_source * 4
    spec = GenerationSpec(
        model=MODEL, prompt="a detailed landscape", seeds=(1,), mode="upscale",
        source=pattern(shape.upscale_source), width=side, height=side, scale=4,
        steps=20 if shape.cuda else 2, strength=0.3, tile_size=shape.tile,
        tile_overlap=shape.overlap,
    )  # fmt: skip
    reset_peak(shape)
    seconds, result = timed(shape, lambda e=engine: e.generate(spec))
    assert result.images[0].image.size == (side, side)
    edit = result.images[0].manifest.get("edit", {})
    section.data.update(
        source=shape.upscale_source, target=side, tile=shape.tile, overlap=shape.overlap,
        seconds=round(seconds, 3), tiles=edit.get("tiles"),
        peak_gib=peak_gib(shape),
    )  # fmt: skip
    del engine
    free(shape)


def training(section: Section, shape: Shape, models: Models) -> None:
    import torch

    from gpu_worker.engine.devices import DeviceProfile
    from gpu_worker.engine.training.spec import TrainingImage, TrainingSpec
    from gpu_worker.engine.training.trainer import train_lora

    dtype = torch.bfloat16 if shape.cuda else torch.float32
    spec = TrainingSpec(
        model=MODEL,
        images=tuple(
            TrainingImage(pattern(shape.size, i), f"a photo of zkx {i}")
            for i in range(shape.train_images)
        ),
        rank=shape.train_rank, alpha=float(shape.train_rank), steps=shape.train_steps,
        resolution=shape.size, batch_size=1, seed=0, face_crop=False, snr_gamma=5.0,
        gradient_checkpointing=shape.cuda,
    )  # fmt: skip
    stamps: list[float] = []
    reset_peak(shape)
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        train_lora(
            spec, Path(work) / "lora.safetensors", profile=DeviceProfile(shape.device, dtype),
            on_step=lambda report: stamps.append(time.perf_counter()),
            pipeline=models.pipeline(dtype),
        )  # fmt: skip
        total = time.perf_counter() - started
    measured = stamps[2:] if len(stamps) > 3 else stamps
    steps_per_s = (len(measured) - 1) / (measured[-1] - measured[0]) if len(measured) > 1 else None
    section.data.update(
        resolution=shape.size, rank=shape.train_rank, steps=len(stamps),
        steps_per_s=round(steps_per_s, 3) if steps_per_s else None, total_s=round(total, 2),
        peak_gib=peak_gib(shape), precision=str(dtype).removeprefix("torch."),
        gradient_checkpointing=shape.cuda,
    )  # fmt: skip
    free(shape)


def fp8(section: Section, shape: Shape, models: Models) -> None:
    """fp8 UNet (EngineConfig.fp8, applied at load) against bf16 on the same seeds."""
    import numpy as np
    import torch

    from gpu_worker.engine.fast_path import FastPath
    from gpu_worker.engine.fp8 import fp8_unsupported_reason

    reason = fp8_unsupported_reason(shape.device)
    if reason is None:
        try:
            section.data["torchao"] = metadata.version("torchao")
        except metadata.PackageNotFoundError:
            reason = "torchao is not installed"
    if reason is not None:
        section.data.update(available=False, reason=reason)
        return
    dtype = torch.bfloat16
    batch, steps = 2, shape.fast_steps
    pipeline = models.pipeline(dtype)
    no_fusion = FastPath(fuse_qkv=False)  # fp8 leaves QKV unfused: compare like with like
    rows, images = {}, {}
    for name, enabled in (("bf16", False), ("fp8", True)):
        engine = new_engine(shape, dtype, pipeline, fast_path=no_fusion, fp8=enabled)
        warm_up(shape, engine, text_spec(shape, batch))
        seconds, result = timed(shape, lambda e=engine: e.generate(text_spec(shape, batch, steps)))
        images[name] = [np.asarray(image.image, dtype=np.float32) for image in result.images]
        rows[name] = {"s_per_image": round(seconds / batch, 4), "steps": steps, "batch": batch}
        print(name, rows[name], flush=True)
        del engine
    difference = np.abs(np.stack(images["fp8"]) - np.stack(images["bf16"]))
    mse = float((difference**2).mean())
    section.data.update(
        available=True, rows=rows,
        speedup=round(rows["bf16"]["s_per_image"] / rows["fp8"]["s_per_image"], 3),
        pixel_difference={
            "mean_abs": round(float(difference.mean()), 3), "max_abs": float(difference.max()),
            "psnr_db": round(10 * np.log10(255**2 / mse), 2) if mse else None,
        },
    )  # fmt: skip
    del pipeline
    free(shape)


def compile_interface_missing() -> list[str]:
    """The compile and hot-swap interface this section uses, where the engine lacks it."""
    from gpu_worker.engine.config import EngineConfig
    from gpu_worker.engine.generate import Engine

    fields = getattr(EngineConfig, "__dataclass_fields__", {})
    wanted = ("compile_unet", "compile_buckets", "compile_mode", "compile_backend", "lora_hotswap")
    missing = [f"EngineConfig.{name}" for name in wanted if name not in fields]
    return missing + ([] if hasattr(Engine, "warm_up") else ["Engine.warm_up"])


def compiled(section: Section, shape: Shape, models: Models) -> None:
    """Warm-up compile of every served bucket, compiled s/image, graphs after warm-up, and the
    LoRA switch time (hot-swap when compiled; eager otherwise)."""
    import torch

    from gpu_worker.engine.spec import LoraSpec

    dtype = torch.float16 if shape.cuda else torch.float32
    pipeline = models.pipeline(dtype)
    missing = compile_interface_missing()
    if missing:
        section.data.update(available=False, reason="not available: " + ", ".join(missing))
        engine = new_engine(shape, dtype, pipeline)
    else:
        buckets = tuple((shape.size, shape.size, batch) for batch in shape.batches)
        engine = new_engine(
            shape, dtype, pipeline, compile_unet=True, compile_buckets=buckets,
            compile_mode="default", compile_backend="inductor" if shape.cuda else "eager",
            lora_hotswap=True,
        )  # fmt: skip
        warm = engine.warm_up(MODEL)
        section.data.update(available=True, warm_up=warm, buckets=buckets, rows=[])
        print("warm-up", warm, flush=True)
        for batch in shape.batches:
            seconds, _ = timed(shape, lambda b=batch, e=engine: e.generate(text_spec(shape, b)))
            section.data["rows"].append({
                "batch": batch, "s_per_image": round(seconds / batch, 4),
                "images_per_hour": round(batch / seconds * 3600),
            })  # fmt: skip
            print(section.data["rows"][-1], flush=True)
    unet = engine.pipelines.get(MODEL)[0].pipeline.unet
    loras = [models.lora(unet, f"lora-{index}", seed=index) for index in range(2)]
    switch = {}
    for index, path in enumerate(loras):
        spec = text_spec(shape, 1, steps=1, loras=(LoraSpec(str(path), 0.8),))
        first, _ = timed(shape, lambda s=spec, e=engine: e.generate(s))
        again, _ = timed(shape, lambda s=spec, e=engine: e.generate(s))
        switch[f"lora_{index}"] = {"first_job_s": round(first, 4), "warm_job_s": round(again, 4),
                                   "switch_s": round(first - again, 4)}  # fmt: skip
    section.data["lora_switch"] = {"hotswap": not missing, **switch}
    if not missing:
        section.data["graphs_after_warmup"] = engine.status()["compile"]["graphs_after_warmup"]
    del engine, pipeline
    free(shape)


SECTIONS = {
    "environment": environment,
    "speed": speed,
    "attachments": attachments,
    "upscale": upscale,
    "training": training,
    "fp8": fp8,
    "compiled": compiled,
}


def run_section(name: str, shape: Shape, models: Models, out: Path) -> dict:
    limit = DRY_LIMIT_S if shape.dry else LIMITS[name]
    section = Section(name, limit)
    section.data.update(section=name, limit_s=limit, dry_run=shape.dry)
    print(f"=== {name} (limit {limit} s) ===", flush=True)
    try:
        with time_box(limit):
            SECTIONS[name](section, shape, models)
        section.data["ok"] = True
    except SectionTimeout as exc:
        section.data.update(ok=False, timed_out=True, error=str(exc))
    except Exception as exc:  # a failing section is reported, the next one still runs
        traceback.print_exc()
        section.data.update(ok=False, error=f"{type(exc).__name__}: {exc}")
    section.data["seconds"] = round(time.perf_counter() - section.started, 2)
    path = write_json(out, name, section.data)
    print(f"=== {name}: {'ok' if section.data['ok'] else 'FAILED'} in "
          f"{section.data['seconds']} s -> {path} ===", flush=True)  # fmt: skip
    free(shape)
    return section.data


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny models, 1-2 steps")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--sections", default=",".join(SECTIONS))
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    shape = DRY if args.dry_run else FULL
    if args.dry_run:
        hide_modules()
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print("the GPU check needs a CUDA GPU (use --dry-run on a CPU)", file=sys.stderr)
        return 2
    if args.dry_run:
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    if shape.cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    out = args.out or Path("bench/results/gpu" if not args.dry_run else "var/gpu-check-dry-run")
    names = [name.strip() for name in args.sections.split(",") if name.strip()]
    unknown = sorted(set(names) - set(SECTIONS))
    if unknown:
        print(f"unknown sections: {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
        return 2
    results = {}
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as work:
        models = Models(shape, Path(work))
        for name in names:
            results[name] = run_section(name, shape, models, out)
    failed = [name for name, data in results.items() if not data.get("ok")]
    print_summary(results)
    print(f"failed sections: {', '.join(failed)}" if failed else "all sections ran")
    return 1 if failed else 0


def print_summary(results: dict) -> None:
    lines = []
    speed_data = results.get("speed", {})
    for row in speed_data.get("rows", []):
        if "s_per_image" in row:
            lines.append(
                f"eager {row['dtype']} batch {row['batch']}: {row['s_per_image']} s/image, "
                f"peak {row['peak_gib']} GiB"
            )
    if "best" in speed_data:
        lines.append(f"best eager: {speed_data['best']}")
    for row in results.get("compiled", {}).get("rows", []):
        lines.append(f"compiled batch {row['batch']}: {row['s_per_image']} s/image")
    for name in ("attachments", "upscale", "training", "fp8", "compiled"):
        data = results.get(name)
        if data and not data.get("ok"):
            lines.append(f"{name}: {data.get('error')}")
        elif data and data.get("available") is False:
            lines.append(f"{name}: {data.get('reason')}")
    print("\n".join(["--- summary ---", *lines]))


if __name__ == "__main__":
    sys.exit(main())
