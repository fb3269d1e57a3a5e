"""Loading pipelines from a model source and keeping them warm in the worker process."""

from __future__ import annotations

import logging
import time
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
from .model_keys import split_model_key
from .profiles import (
    CPU_RESIDENT_MODELS,
    HOST_TIER_SHARE,
    MemoryProfile,
    choose_memory_profile,
    resident_budget_bytes,
)
from .residency import (
    RESIDENT,
    ModelLoad,
    ResidencyBudget,
    ResidentModels,
    files_bytes,
    part_files,
)
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
    parts: dict[str, Any] | None = None,
    vae: str | None = None,
):
    """Load an SDXL pipeline from a local diffusers directory (the ``fp16`` variant when the
    dtype is half and it is published, or when it is all there is) or a single original-layout
    ``.safetensors`` checkpoint (with ``config.single_file_config``, a directory or hub id),
    then place it. ``source`` is local (``resolve_source`` first); the weights files read are
    recorded for the manifest under ``source`` and ``record_as``. ``parts``: modules another
    kept pipeline already holds with the same weights (``residency``), used as they are.
    ``vae``: the model's own VAE source (a registered model's), else ``config.vae_source``.

    Only safetensors weights are accepted: pickle checkpoints run code when loaded.
    """
    from diffusers import StableDiffusionXLPipeline

    config = config or EngineConfig()
    memory = memory or choose_memory_profile(device_total_memory(profile.device))
    common: dict[str, Any] = {"torch_dtype": profile.dtype, "add_watermarker": False}
    common.update(parts or {})
    vae = vae or config.vae_source
    if vae and "vae" not in common:
        common["vae"] = load_vae(vae, profile, config)
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
    """A VAE: ``ILLU_SDXL_VAE`` or a registered model's own (a directory, a hub id, a folder
    of a hub repo). Its own
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
    """Warm base pipelines by model source, kept by ``residency.ResidentModels`` within the
    budget of the device profile (several on a large GPU, the least recently used out first,
    parked in host memory where it has room); loads are timed and their tier recorded."""

    def __init__(self, profile: DeviceProfile, config: EngineConfig | None = None, on_drop=None):
        self.profile = profile
        self.config = config or EngineConfig()
        self.memory = choose_memory_profile(
            device_total_memory(profile.device), self.config.memory_profile
        )
        self.residency = ResidentModels(profile.device, self._budget(), on_drop=on_drop)
        self._lock = Lock()

    def get(self, source: str) -> tuple[WarmModel, int]:
        """Return (warm model, load_ms); load_ms is 0 when it was already on the device."""
        warm, load = self.fetch(source)
        return warm, load.ms

    def fetch(self, source: str) -> tuple[WarmModel, ModelLoad]:
        """The warm model for ``source`` and how it got on the device: already resident,
        back from host memory, or loaded from disk (room made first, shared parts reused)."""
        with self._lock:
            started = time.perf_counter()
            warm, tier = self.residency.take(source)
            if warm is None:
                warm = self._load(source)
            load = ModelLoad(source, tier, int((time.perf_counter() - started) * 1000))
            if tier == RESIDENT:
                load = ModelLoad(source, RESIDENT, 0)
            self.residency.count_switch(tier)
            return warm, load

    def _load(self, key: str) -> WarmModel:
        """Load the model of ``key`` (``model_keys``: a source, and its own VAE if any)."""
        started = time.perf_counter()
        source, own_vae = split_model_key(key)
        local = resolve_source(
            source,
            self.config.source_config(),
            checksum=self.config.checksums.get(source),
            layout="file" if source.endswith(".safetensors") else "pipeline",
            prefer_fp16=prefers_fp16(self.profile.dtype),
        )
        vae = own_vae or self.config.vae_source
        files = self._part_files(local, vae)
        shared = self.residency.shared_parts(files)
        self.residency.make_room(files_bytes(files, skip=shared))
        pipeline = load_sdxl_pipeline(
            local,
            self.profile,
            self.config,
            self.memory,
            record_as=(key,),
            parts=shared,
            vae=vae,
        )
        load_ms = int((time.perf_counter() - started) * 1000)
        logger.info(
            "loaded pipeline %s on %s in %d ms (shared parts: %s)",
            key,
            self.profile.name,
            load_ms,
            ", ".join(shared) or "none",
        )
        warm = self._warm(key, local, pipeline)
        self.residency.add(key, warm, files)
        return warm

    def _part_files(self, local: str, vae: str | None) -> dict[str, tuple[Path, ...]]:
        """The weights files of each part a load would read (none for a single file: its
        parts are not separate files, so they are never shared); ``vae``: the VAE it loads
        instead of its own folder's."""
        if local.endswith(".safetensors") or not (Path(local) / "model_index.json").exists():
            return {}
        files, _ = pipeline_weights(Path(local), prefers_fp16(self.profile.dtype))
        parts = part_files(Path(local), files)
        if vae:
            vae = resolve_source(
                vae,
                self.config.source_config(),
                layout="model",
                prefer_fp16=prefers_fp16(self.profile.dtype),
            )
            parts["vae"] = tuple(
                model_folder_weights(Path(vae), prefers_fp16(self.profile.dtype))[0]
            )
        return parts

    def adopt(self, source: str, pipeline) -> WarmModel:
        """Keep an already built pipeline (the full-size random SDXL built in GPU memory by
        the GPU check) as the warm model ``source``, placed as a loaded one would be."""
        with self._lock:
            self.residency.make_room(0)
            pipeline.set_progress_bar_config(disable=True)
            placed = place_pipeline(
                pipeline,
                self.profile,
                self.memory,
                fast_path=self.config.cuda_fast_path(),
                fp8=self.config.fp8,
            )
            warm = self._warm(source, source, placed)
            self.residency.add(source, warm)
            return warm

    def _warm(self, source: str, local: str, pipeline) -> WarmModel:
        return WarmModel(
            source=source,
            local_path=local,
            pipeline=pipeline,
            loras=LoraCache(self.config.lora_budget_bytes),
            default_scheduler_config=dict(pipeline.scheduler.config),
            default_scheduler_class=type(pipeline.scheduler),
        )

    def own_parts(self, source: str, names: tuple[str, ...]) -> list[str]:
        """Before a job changes these parts of ``source`` (LoRA layers in its text
        encoders): its own copy of any part it shares with another kept model."""
        with self._lock:
            return self.residency.own_components(source, names)

    def loaded(self) -> list[str]:
        """Device-resident model sources, least recently used first."""
        return self.residency.resident()

    def status(self) -> dict[str, Any]:
        """The tiers for heartbeats and health: resident and parked models, bytes used and
        budgets, and how many loads were switches (not already resident)."""
        residency, budget = self.residency, self.residency.budget
        return {
            "resident": residency.resident(),
            "host": list(residency.on_host),
            "device_bytes": residency.device_bytes(),
            "host_bytes": residency.host_bytes(),
            "budget_bytes": budget.device_bytes,
            "host_budget_bytes": budget.host_bytes,
            "max_models": budget.max_models,
            "room": residency.room(),
            "switches": residency.switches,
        }

    @contextmanager
    def use_memory_profile(self, name: str | None):
        """Run under another memory profile (the low one after an out-of-memory error): warm
        pipelines are unloaded and reload placed that way, then the default comes back."""
        if not name or name == self.memory.name:
            yield
            return
        previous = self.memory
        with self._lock:
            self.residency.drop_all()
            self.memory = choose_memory_profile(None, name)
            self.residency.budget = self._budget()
        try:
            yield
        finally:
            with self._lock:
                self.residency.drop_all()
                self.memory = previous
                self.residency.budget = self._budget()

    def unload_all(self) -> None:
        """Drop every warm pipeline from the device (before something else needs the device's
        memory); parked ones stay in host memory."""
        with self._lock:
            self.residency.drop_all(host_too=False)

    def items(self) -> list[tuple[str, WarmModel]]:
        return list(self.residency.on_device.items())

    def _budget(self) -> ResidencyBudget:
        """The residency budget of this device and memory profile; the config overrides."""
        import psutil

        config, memory = self.config, self.memory
        total = device_total_memory(self.profile.device)
        device_bytes = config.resident_budget_bytes
        if device_bytes is None:
            device_bytes = resident_budget_bytes(total, memory, psutil.virtual_memory().total)
        max_models = config.max_resident_models or (CPU_RESIDENT_MODELS if total is None else None)
        if memory.cpu_offload:
            max_models = 1
        host_bytes = config.host_cache_bytes
        if host_bytes is None:
            on_gpu = total is not None and not memory.cpu_offload
            free = psutil.virtual_memory().available
            host_bytes = int(free * HOST_TIER_SHARE) if on_gpu else 0
        return ResidencyBudget(device_bytes, host_bytes, max_models)
