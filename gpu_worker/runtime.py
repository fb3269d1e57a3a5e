"""The worker process's warm state: one engine, its pipelines loaded once and reused, the
model configuration (real weights from settings, or the tiny demo models built on first use),
the services a run uses, and the worker's name."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from .demo_models import DEMO_MODEL, ensure_demo_models
from .engine.compilation import parse_buckets
from .engine.config import EngineConfig
from .engine.fast_path import FastPath
from .engine.generate import Engine
from .engine.sources import S3Config

if TYPE_CHECKING:
    from generation.models import GenerationJob

    from .scoring import IdentityScorer


@dataclass(frozen=True)
class ModelSet:
    sdxl: str
    ip_adapter: str | None
    controlnets: dict[str, str]  # control type -> ControlNet source ("*": Union for all)
    depth: str | None


def configured_model() -> str:
    return settings.ILLU_SDXL_MODEL or DEMO_MODEL


def _parse_controlnets(raw: str) -> dict[str, str]:
    """ILLU_CONTROLNET_MODELS: "canny=repo/or/dir,depth=..." or a single Union model source."""
    raw = raw.strip()
    if not raw:
        return {}
    if "=" not in raw:
        return {"*": raw}
    pairs = (item.split("=", 1) for item in raw.split(",") if item.strip())
    return {kind.strip(): source.strip() for kind, source in pairs}


@lru_cache(maxsize=1)
def model_set() -> ModelSet:
    if not settings.ILLU_SDXL_MODEL:
        demo = ensure_demo_models()
        return ModelSet(
            sdxl=demo["sdxl"],
            ip_adapter=demo["ip_adapter"],
            controlnets={"*": demo["controlnet_union"]},
            depth=demo["depth"],
        )
    return ModelSet(
        sdxl=settings.ILLU_SDXL_MODEL,
        ip_adapter=settings.ILLU_IP_ADAPTER_MODEL or None,
        controlnets=_parse_controlnets(settings.ILLU_CONTROLNET_MODELS),
        depth=settings.ILLU_DEPTH_MODEL or None,
    )


def resolve_model_source(model: str) -> str:
    """Map a job's model (a registry slug, or the configured source) to what the engine
    loads: a hub id, local dir or s3:// URI."""
    from .model_registry import source_for

    return source_for(model, {DEMO_MODEL: model_set().sdxl})


def engine_config() -> EngineConfig:
    return EngineConfig(
        cache_dir=Path(settings.ILLU_MODELS_DIR) / "downloads",
        s3=S3Config(
            endpoint_url=settings.ILLU_MODELS_S3_ENDPOINT_URL or settings.AWS_S3_ENDPOINT_URL,
            access_key=settings.AWS_ACCESS_KEY_ID or None,
            secret_key=settings.AWS_SECRET_ACCESS_KEY or None,
            region=settings.AWS_S3_REGION_NAME,
        ),
        progress_interval_s=settings.ILLU_DOWNLOAD_PROGRESS_INTERVAL,
        vae_source=settings.ILLU_SDXL_VAE or None,
        memory_profile=settings.ILLU_MEMORY_PROFILE or None,
        fast_path=FastPath(
            sdpa=settings.ILLU_CUDA_SDPA,
            channels_last=settings.ILLU_CUDA_CHANNELS_LAST,
            fuse_qkv=settings.ILLU_CUDA_FUSE_QKV,
        ),
        compile_unet=settings.ILLU_COMPILE_UNET,
        compile_buckets=parse_buckets(settings.ILLU_COMPILE_BUCKETS),
        compile_mode=settings.ILLU_COMPILE_MODE,
        compile_cache_dir=Path(settings.VAR_DIR) / "torchinductor",
        lora_hotswap=settings.ILLU_LORA_HOTSWAP,
        lora_hotswap_max_rank=settings.ILLU_LORA_HOTSWAP_MAX_RANK,
        ip_adapter=model_set().ip_adapter,
        depth_model=model_set().depth,
        fp8=settings.ILLU_FP8,
        resident_budget_bytes=settings.ILLU_RESIDENT_BUDGET_BYTES or None,
        max_resident_models=settings.ILLU_MAX_RESIDENT_MODELS or None,
        host_cache_bytes=None
        if settings.ILLU_HOST_CACHE_BYTES < 0
        else settings.ILLU_HOST_CACHE_BYTES,
    )


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    from .engine.devices import select_device

    return Engine(select_device(settings.ILLU_DEVICE or None), engine_config())


@dataclass
class WorkerServices:
    """What a run on this worker uses besides its row: the warm engine and the identity
    scorer of a job. The solo path, the batch pass and the repair loop all take them from
    ``worker_services()``, so a test that puts a double here reaches every path."""

    engine: Engine
    scorer_for_job: Callable[[GenerationJob], IdentityScorer | None]


@lru_cache(maxsize=1)
def worker_services() -> WorkerServices:
    from .scoring import scorer_for_job

    return WorkerServices(engine=get_engine(), scorer_for_job=scorer_for_job)


def worker_identity() -> str:
    """The RQ worker's name when run by one (the reconciler checks its heartbeat)."""
    from rq import get_current_job

    current = get_current_job()
    if current is not None and current.worker_name:
        return current.worker_name
    return f"{socket.gethostname()}:{os.getpid()}"
