"""Loading pipelines from a model source and keeping them warm in the worker process."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock
from typing import Any

from .config import EngineConfig
from .devices import DeviceProfile, device_total_memory
from .errors import ModelUnavailable
from .fast_path import FastPath, apply_fast_path
from .fp8 import apply_fp8
from .hub import model_folder_weights, pipeline_weights
from .ip_adapter import IPAdapterState
from .lora import LoraCache
from .memory import free_device_memory
from .profiles import MemoryProfile, choose_memory_profile
from .sources import is_local_source, resolve_source
from .weight_hashes import WEIGHT_HASHES
from .weights import read_safetensors_header

logger = logging.getLogger(__name__)

__all__ = ["PipelineCache", "WarmModel", "is_local_source", "load_sdxl_pipeline"]


@dataclass
class WarmModel:
    """A loaded base pipeline and the per-pipeline state attached to it between jobs."""

    source: str
    local_path: str  # what was loaded: a directory, a single file or a hub repo id
    pipeline: Any
    loras: LoraCache
    ip_adapter: IPAdapterState = field(default_factory=IPAdapterState)
    default_scheduler_config: dict = field(default_factory=dict)
    default_scheduler_class: type | None = None


def prefers_fp16(dtype) -> bool:
    """Half-precision pipelines read the published ``fp16`` weights variant (half the bytes
    of the fp32 files; bf16 casts from it)."""
    import torch

    return dtype in (torch.float16, torch.bfloat16)


def load_sdxl_pipeline(
    source: str,
    profile: DeviceProfile,
    config: EngineConfig | None = None,
    memory: MemoryProfile | None = None,
    *,
    record_as: tuple[str, ...] = (),
):
    """Load an SDXL pipeline from a local diffusers directory (the ``fp16`` variant when the
    dtype is half and it is published, or when it is all there is) or a single original-layout
    ``.safetensors`` checkpoint (with ``config.single_file_config``, a directory or hub id),
    then place it. ``source`` is local (``resolve_source`` first); the weights files read are
    recorded for the manifest under ``source`` and ``record_as``.

    Only safetensors weights are accepted: pickle checkpoints run code when loaded.
    """
    from diffusers import StableDiffusionXLPipeline

    config = config or EngineConfig()
    memory = memory or choose_memory_profile(device_total_memory(profile.device))
    common: dict[str, Any] = {"torch_dtype": profile.dtype, "add_watermarker": False}
    if config.vae_source:
        common["vae"] = load_vae(config.vae_source, profile, config)
    try:
        if source.endswith(".safetensors"):
            read_safetensors_header(Path(source))
            if not config.single_file_config:
                raise ModelUnavailable("A single-file checkpoint needs single_file_config.")
            config_dir = resolve_source(
                config.single_file_config, config.source_config(), layout="configs"
            )
            pipeline = StableDiffusionXLPipeline.from_single_file(
                source, config=config_dir, local_files_only=True, **common
            )
            files, root = [Path(source)], Path(source).parent
        else:
            if not (Path(source) / "model_index.json").exists():
                raise ModelUnavailable(
                    f"No diffusers model at {source!r} (model_index.json missing); "
                    "check ILLU_SDXL_MODEL."
                )
            files, variant = pipeline_weights(Path(source), prefers_fp16(profile.dtype))
            pipeline = StableDiffusionXLPipeline.from_pretrained(
                source, use_safetensors=True, variant=variant, **common
            )
            root = Path(source)
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"Could not load SDXL model {source!r}: {exc}") from exc
    WEIGHT_HASHES.record_loaded((source, *record_as), root, files)
    pipeline.set_progress_bar_config(disable=True)
    return place_pipeline(
        pipeline, profile, memory, fast_path=config.cuda_fast_path(), fp8=config.fp8
    )


# VAEs known to decode in fp16 without overflowing, whatever their config says.
FP16_SAFE_VAES = frozenset({"madebyollin/sdxl-vae-fp16-fix"})


def load_vae(source: str, profile: DeviceProfile, config: EngineConfig | None = None):
    """The VAE of ``ILLU_SDXL_VAE`` (a directory, a hub id, a folder of a hub repo). Its own
    ``force_upcast`` is kept: a VAE that is not fp16-safe still decodes in fp32. Only a VAE
    known to be fp16-safe (its config says so, or it is in ``FP16_SAFE_VAES``) decodes in
    half precision."""
    from diffusers import AutoencoderKL

    config = config or EngineConfig()
    prefer = prefers_fp16(profile.dtype)
    local = resolve_source(source, config.source_config(), layout="model", prefer_fp16=prefer)
    files, variant = model_folder_weights(Path(local), prefer)
    try:
        vae = AutoencoderKL.from_pretrained(
            local, torch_dtype=profile.dtype, use_safetensors=True, variant=variant
        )
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"Could not load VAE {source!r}: {exc}") from exc
    if source.strip("/") in FP16_SAFE_VAES:
        vae.register_to_config(force_upcast=False)
    WEIGHT_HASHES.record_loaded((source, local), Path(local), files)
    return vae


def place_pipeline(
    pipeline,
    profile: DeviceProfile,
    memory: MemoryProfile,
    fast_path: FastPath | None = None,
    *,
    fp8: bool = False,
):
    """Put the pipeline on its device the way the memory profile says, quantise its UNet to
    fp8 when asked and supported (``fp8``), then apply the CUDA fast path (nothing on the
    CPU)."""
    if memory.cpu_offload and profile.device.startswith("cuda"):
        pipeline.enable_model_cpu_offload(device=profile.device)
    else:
        pipeline.to(profile.device)
    if memory.vae_tiling:
        pipeline.vae.enable_tiling()
    apply_fp8(pipeline, profile.device, fp8)
    apply_fast_path(pipeline, profile.device, fast_path or FastPath())
    return pipeline


class PipelineCache:
    """Warm base pipelines by model source (LRU of ``config.max_pipelines``); loads are timed."""

    def __init__(self, profile: DeviceProfile, config: EngineConfig | None = None):
        self.profile = profile
        self.config = config or EngineConfig()
        self.memory = choose_memory_profile(
            device_total_memory(profile.device), self.config.memory_profile
        )
        self._models: OrderedDict[str, WarmModel] = OrderedDict()
        self._lock = Lock()

    def get(self, source: str) -> tuple[WarmModel, int]:
        """Return (warm model, load_ms); load_ms is 0 when it was already warm."""
        with self._lock:
            if source in self._models:
                self._models.move_to_end(source)
                return self._models[source], 0
            started = time.perf_counter()
            local = resolve_source(
                source,
                self.config.source_config(),
                checksum=self.config.checksums.get(source),
                layout="file" if source.endswith(".safetensors") else "pipeline",
                prefer_fp16=prefers_fp16(self.profile.dtype),
            )
            self._evict_to(self.config.max_pipelines - 1)
            pipeline = load_sdxl_pipeline(
                local, self.profile, self.config, self.memory, record_as=(source,)
            )
            load_ms = int((time.perf_counter() - started) * 1000)
            logger.info("loaded pipeline %s on %s in %d ms", source, self.profile.name, load_ms)
            return self._keep(source, local, pipeline), load_ms

    def adopt(self, source: str, pipeline) -> WarmModel:
        """Keep an already built pipeline (the full-size random SDXL built in GPU memory by
        the GPU check) as the warm model ``source``, placed as a loaded one would be."""
        with self._lock:
            self._evict_to(self.config.max_pipelines - 1)
            pipeline.set_progress_bar_config(disable=True)
            placed = place_pipeline(
                pipeline,
                self.profile,
                self.memory,
                fast_path=self.config.cuda_fast_path(),
                fp8=self.config.fp8,
            )
            return self._keep(source, source, placed)

    def _keep(self, source: str, local: str, pipeline) -> WarmModel:
        warm = WarmModel(
            source=source,
            local_path=local,
            pipeline=pipeline,
            loras=LoraCache(self.config.lora_budget_bytes),
            default_scheduler_config=dict(pipeline.scheduler.config),
            default_scheduler_class=type(pipeline.scheduler),
        )
        self._models[source] = warm
        return warm

    def loaded(self) -> list[str]:
        return list(self._models)

    @contextmanager
    def use_memory_profile(self, name: str | None):
        """Run under another memory profile (the low one after an out-of-memory error): warm
        pipelines are unloaded and reload placed that way, then the default comes back."""
        if not name or name == self.memory.name:
            yield
            return
        previous = self.memory
        with self._lock:
            self._evict_to(0)
            self.memory = choose_memory_profile(None, name)
        try:
            yield
        finally:
            with self._lock:
                self._evict_to(0)
                self.memory = previous

    def unload_all(self) -> None:
        """Drop every warm pipeline (before something else needs the device's memory)."""
        with self._lock:
            self._evict_to(0)

    def items(self) -> list[tuple[str, WarmModel]]:
        return list(self._models.items())

    def _evict_to(self, keep: int) -> None:
        while len(self._models) > max(keep, 0):
            source, _ = self._models.popitem(last=False)
            logger.info("unloading pipeline %s", source)
            free_device_memory()
