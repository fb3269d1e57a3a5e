"""``torch.compile`` of the UNet, only where a graph is reused, and never inside a user's job.

What is compiled: the UNet (``dynamic=False``) at the served size buckets
(``EngineConfig.compile_buckets``: width, height, images per pass), for plain jobs and, with
LoRA hot-swap on, for jobs whose LoRAs sit in the hot-swap slots (``lora_slots``): a LoRA
change is then new weights in the same graph, never a new graph. The compiled UNet takes its
inputs in one layout (float timesteps, contiguous latents): every scheduler and every pipeline
(text, img2img, inpaint, batch) shares one graph per bucket and kind.
Everything is compiled by ``Engine.warm_up``, which reports the time and the graph count;
compiled graphs persist in the inductor cache under ``var/`` (``compile_cache_dir``), so a
restarted worker reads them back instead of compiling again.

After the warm-up, a pass at a served bucket of a compiled kind runs the compiled UNet under
dynamo's ``fail_on_recompile`` stance; anything else (IP-Adapter, ControlNet, a shape that is
no bucket) runs the plain module under ``force_eager``. So no call ever compiles: if a
served pass would need a new graph all the same, that is logged as a WARNING, counted, and
the pass runs again eager. ``status()`` reports the graphs dynamo compiled after the warm-up
(read from its counters: 0 unless something outside the engine compiles) and those
fall-backs."""

from __future__ import annotations

import functools
import logging
import os
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .spec import GenerationSpec

if TYPE_CHECKING:
    from .config import EngineConfig
    from .prepared import PreparedJob

logger = logging.getLogger(__name__)

PLAIN, LORA = "plain", "lora"
_RECOMPILE_REFUSED = "fail_on_recompile"
_WARM_UP_GUIDANCE = 5.0  # > 1: classifier-free guidance, the UNet batch every job runs


def parse_buckets(text: str) -> tuple[tuple[int, int, int], ...]:
    """``"1024x1024x1,1024x1024x4,832x1216"`` -> ((1024, 1024, 1), (1024, 1024, 4),
    (832, 1216, 1)): width x height [x images per pass, default 1]."""
    buckets = []
    for item in text.replace(" ", "").split(","):
        if not item:
            continue
        parts = item.lower().split("x")
        if len(parts) not in (2, 3) or not all(part.isdigit() for part in parts):
            raise ValueError(f"A compile bucket is WIDTHxHEIGHT[xIMAGES], not {item!r}.")
        width, height, images = (*map(int, parts), 1)[:3]
        buckets.append((width, height, images))
    return tuple(buckets)


class UnetCompiler:
    """The compiled UNet of the engine's warm pipeline and the shapes it serves."""

    def __init__(self, config: EngineConfig):
        self.config = config
        self._served: set[tuple] = set()  # (latent width, latent height, UNet batch, kind)
        self._compiled_unet: weakref.ref | None = None
        self._stale_warned = False
        self._graphs_at_warm_up: int | None = None
        self.fallbacks = 0
        self.compile_ms = 0

    @property
    def enabled(self) -> bool:
        return self.config.compile_unet

    # Warm-up ----------------------------------------------------------------------------

    def warm_up(self, engine, model: str) -> dict[str, Any]:
        """Compile the warm UNet at every served bucket (the engine has put its hot-swap
        slots in first). Returns ``compile_ms``, ``graphs`` (compiled now), the buckets and
        ``per_bucket`` ({"bucket", "ms", "graphs"}); a bucket that fails to compile is
        logged as a WARNING and served eager."""
        buckets = [list(bucket) for bucket in self.config.compile_buckets]
        # Compiling takes memory: only where the memory profile allows it (or forced on
        # the CPU, for tests).
        allowed = engine.pipelines.memory.compile_allowed or self.config.fast_path.on_cpu
        if not self.enabled or not allowed or not buckets:
            return {"compile_ms": 0, "graphs": 0, "buckets": buckets, "per_bucket": []}
        import torch._dynamo

        started = time.perf_counter()
        warm, _ = engine.pipelines.get(model)
        self._use_persistent_cache()
        kinds = [PLAIN, LORA] if warm.loras.slots is not None else [PLAIN]
        dynamo_config = torch._dynamo.config
        # Every served variant is one cache entry of the UNet's frame: room for all of them.
        variants = len(buckets) * len(kinds)
        dynamo_config.recompile_limit = max(dynamo_config.recompile_limit, variants + 1)
        dynamo_config.accumulated_recompile_limit = max(
            dynamo_config.accumulated_recompile_limit, 4 * variants
        )
        graphs_before = _graphs_compiled()
        self._compile_unet(warm.pipeline.unet)
        if self._compiled_unet is None or self._compiled_unet() is not warm.pipeline.unet:
            self._served.clear()  # what was compiled for an unloaded UNet serves no more
            self._compiled_unet = weakref.ref(warm.pipeline.unet)
            self._stale_warned = False
        per_bucket = []
        for width, height, images in self.config.compile_buckets:
            bucket_started, bucket_graphs = time.perf_counter(), _graphs_compiled()
            if self._compile_bucket(engine, model, (width, height, images), kinds):
                self._served.update((width // 8, height // 8, 2 * images, k) for k in kinds)
            per_bucket.append(
                {
                    "bucket": [width, height, images],
                    "ms": int((time.perf_counter() - bucket_started) * 1000),
                    "graphs": _graphs_compiled() - bucket_graphs,
                }
            )
        graphs = _graphs_compiled() - graphs_before
        self._graphs_at_warm_up = _graphs_compiled()
        self.compile_ms = int((time.perf_counter() - started) * 1000)
        logger.info(
            "compiled the UNet: %d graphs for %d buckets (%s jobs) in %d ms",
            graphs,
            len(buckets),
            " and ".join(kinds),
            self.compile_ms,
        )
        return {
            "compile_ms": self.compile_ms,
            "graphs": graphs,
            "buckets": buckets,
            "per_bucket": per_bucket,
        }

    def _compile_unet(self, unet) -> None:
        if getattr(unet, "compiled_forward", None) is not None:
            return
        options = {"mode": self.config.compile_mode} if self._inductor else {}
        compiled = torch.compile(
            unet.forward, backend=self.config.compile_backend, dynamic=False, **options
        )
        unet.compiled_forward = compiled
        unet.forward = _with_one_input_layout(compiled)

    def _compile_bucket(self, engine, model: str, bucket: tuple, kinds: list[str]) -> bool:
        import torch._dynamo

        width, height, images = bucket
        spec = GenerationSpec(
            model=model,
            prompt="warm-up",
            seeds=tuple(range(images)),
            width=width,
            height=height,
            steps=1,
            guidance_scale=_WARM_UP_GUIDANCE,
        )
        try:
            # Past the recompile limit dynamo would fall back to eager in silence: raise.
            with torch._dynamo.config.patch(fail_on_recompile_limit_hit=True):
                for kind in kinds:
                    self._compile_one(engine, spec, kind)
        except Exception as exc:  # a compiler failure must not stop the worker: serve eager
            logger.warning(
                "the UNet did not compile for %dx%d x%d; jobs of that size run eager: %s",
                width,
                height,
                images,
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            )
            return False
        return True

    def _compile_one(self, engine, spec: GenerationSpec, kind: str) -> None:
        with engine.prepare(spec) as job:
            warm_pipeline = job.pipeline
            if kind == LORA:  # the state a job with hot-swapped LoRAs runs in
                job.resting.warm.loras.slots.enable(warm_pipeline.unet)
                job.resting.attention.apply(warm_pipeline.unet, job.resting.attention.plain)
            warm_pipeline.scheduler = job.new_scheduler()
            warm_pipeline(
                prompt=spec.prompt,
                width=spec.width,
                height=spec.height,
                num_inference_steps=spec.steps,
                guidance_scale=spec.guidance_scale,
                num_images_per_prompt=spec.num_images,
                output_type="latent",
            )

    def _use_persistent_cache(self) -> None:
        cache = self.config.compile_cache_dir
        if cache is None:
            return
        Path(cache).mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(Path(cache).resolve()))
        import torch._functorch.config
        import torch._inductor.config

        torch._inductor.config.fx_graph_cache = True
        torch._functorch.config.enable_autograd_cache = True

    @property
    def _inductor(self) -> bool:
        return self.config.compile_backend == "inductor"

    # Jobs -------------------------------------------------------------------------------

    def run(self, job: PreparedJob, call: Callable[[], Any], *, size, images: int):
        """``call()`` (one pipeline pass) with the compiled UNet where this pass's shape and
        kind were compiled, else eager; never compiling."""
        if not self._served:
            return call()
        if self._compiled_unet() is not job.pipeline.unet:
            self._warn_stale()
            return call()
        key = self._key(job, size, images)
        if key not in self._served:
            with torch.compiler.set_stance("force_eager"):
                return call()
        try:
            with torch.compiler.set_stance(_RECOMPILE_REFUSED):
                return call()
        except RuntimeError as exc:  # dynamo raises a plain RuntimeError naming the stance
            if _RECOMPILE_REFUSED not in str(exc):
                raise
            reason = str(exc).splitlines()[0]
            self.fallbacks += 1
        logger.warning(
            "the compiled UNet would need a new graph for %s; this pass runs eager (%s)",
            key,
            reason,
        )
        with torch.compiler.set_stance("force_eager"):
            return call()

    def _warn_stale(self) -> None:
        if not self._stale_warned:
            self._stale_warned = True
            logger.warning(
                "the UNet compiled at warm-up was unloaded (a low-memory retry or another "
                "model); jobs run eager until the next warm-up (manage.py warmup)"
            )

    def _key(self, job: PreparedJob, size, images: int) -> tuple | None:
        spec = job.spec
        if spec.ip_adapter_images or any(controls for controls in job.controls):
            return None
        if job.loras and job.resting.warm.loras.slots is None:
            return None  # LoRAs as named adapters: each set would be a graph of its own
        unet = job.pipeline.unet
        cfg = spec.guidance_scale > 1 and unet.config.time_cond_proj_dim is None
        width, height = size
        return (width // 8, height // 8, images * (2 if cfg else 1), LORA if job.loras else PLAIN)

    def status(self) -> dict[str, Any]:
        after = 0
        if self._graphs_at_warm_up is not None:
            after = _graphs_compiled() - self._graphs_at_warm_up
        unet = self._compiled_unet() if self._compiled_unet is not None else None
        return {
            "enabled": self.enabled,
            "compiled": bool(self._served) and unet is not None and not self._stale_warned,
            "buckets": [list(bucket) for bucket in self.config.compile_buckets],
            "graphs_after_warmup": after,
            "eager_fallbacks": self.fallbacks,
            "compile_ms": self.compile_ms,
        }


def _with_one_input_layout(forward: Callable) -> Callable:
    """The UNet's forward with its inputs in one layout, so a graph serves every pipeline:
    an integer timestep (DPM-Solver++, DDIM) cast to float, as the UNet's time embedding
    does first thing; latents made contiguous (img2img and inpaint latents come
    channels-last from a channels-last VAE encoder, text latents contiguous)."""

    @functools.wraps(forward)
    def call(sample, timestep=None, *args, **kwargs):
        if isinstance(timestep, torch.Tensor) and not timestep.is_floating_point():
            timestep = timestep.float()
        return forward(sample.contiguous(), timestep, *args, **kwargs)

    return call


def _graphs_compiled() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])
