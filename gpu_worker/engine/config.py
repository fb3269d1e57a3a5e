"""Plain engine configuration; the job layer fills it from Django settings."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from .fast_path import FastPath
from .lora import DEFAULT_LORA_BUDGET_BYTES
from .sources import S3Config, SourceConfig
from .spec import SpecLimits


@dataclass(frozen=True)
class EngineConfig:
    cache_dir: Path = Path("var/models")  # where s3:// sources are downloaded
    s3: S3Config = S3Config()
    progress_interval_s: float = 10.0
    # sha256 per source URI, for single-file S3 sources published without a sidecar.
    checksums: dict[str, str] = field(default_factory=dict)
    # A VAE swapped into every pipeline (e.g. the fp16-safe "madebyollin/sdxl-vae-fp16-fix"):
    # a directory, a hub id or a folder of a hub repo; its own force_upcast is kept.
    vae_source: str | None = None
    # A diffusers config directory (model_index.json + component configs) for
    # single-file .safetensors checkpoints.
    single_file_config: str | None = None
    memory_profile: str | None = None  # override "large" / "standard" / "low" / "cpu"
    # CUDA switches (SDPA, channels-last, fused QKV); FastPath(on_cpu=True) forces them on CPU.
    fast_path: FastPath = FastPath()
    # torch.compile of the UNet, by Engine.warm_up, at these (width, height, images per pass)
    # buckets only, where the memory profile allows it (see ``compilation``).
    compile_unet: bool = False
    compile_buckets: tuple[tuple[int, int, int], ...] = ((1024, 1024, 1),)
    compile_mode: str = "default"  # torch.compile mode (inductor): "max-autotune", ...
    compile_backend: str = "inductor"  # tests use "eager" / "aot_eager"
    compile_cache_dir: Path | None = Path("var/torchinductor")  # persistent inductor cache
    # LoRAs hot-swapped into fixed UNet slots (diffusers' enable_lora_hotswap), so a compiled
    # UNet serves every LoRA (up to max rank, up to ``lora_hotswap_slots`` per job).
    lora_hotswap: bool = False
    lora_hotswap_max_rank: int = 64
    lora_hotswap_slots: int = 2
    lora_budget_bytes: int = DEFAULT_LORA_BUDGET_BYTES
    ip_adapter: str | None = None  # default IP-Adapter weights file for reference images
    # Base models kept warm (``residency``): device bytes for them (None: from the device
    # profile, ``profiles.resident_budget_bytes``), a cap on their number (None: bytes only;
    # a CPU worker keeps three), host bytes parking pushed-off models (None: half the free
    # host memory on a GPU worker, none on a CPU one).
    resident_budget_bytes: int | None = None
    max_resident_models: int | None = None
    host_cache_bytes: int | None = None
    limits: SpecLimits = SpecLimits()
    # The depth model of the depth and normal preprocessors (a directory or a hub id); it runs
    # on the engine's device.
    depth_model: str | None = None
    # The UNet's linear layers in float8 through torchao (CUDA compute capability >= 8.9 only;
    # elsewhere the pipeline stays as loaded and a log line says why). See fp8.py.
    fp8: bool = False

    def cuda_fast_path(self) -> FastPath:
        """The fast-path switches in effect: fusing concatenates the q/k/v weights, which
        float8 tensors do not allow, so fp8 turns fused QKV off."""
        return replace(self.fast_path, fuse_qkv=self.fast_path.fuse_qkv and not self.fp8)

    def source_config(self) -> SourceConfig:
        return SourceConfig(
            cache_dir=self.cache_dir, s3=self.s3, progress_interval_s=self.progress_interval_s
        )
