"""Generation on a warm SDXL pipeline: text, LoRA, IP-Adapter and ControlNet in one call."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from .config import EngineConfig
from .controlnet import ControlNetCache, PreparedControls, build_view, prepare_controls
from .devices import DeviceProfile, select_device
from .errors import GenerationCancelled, InvalidSpec, OutOfMemory
from .fast_path import sync_qkv_fusion
from .ip_adapter import ip_adapter_files
from .loading import PipelineCache, WarmModel
from .lora import ResolvedLora, resolve_lora
from .manifest import (
    file_sha256,
    image_sha256,
    library_versions,
    model_digests,
    scheduler_record,
    weights_digests,
)
from .preview import PreviewCallback, latent_preview
from .schedulers import build_scheduler
from .sources import resolve_source
from .spec import (
    EDIT_MODES,
    GenerationResult,
    GenerationSpec,
    ImageOutput,
    StepCallback,
    resolved_prompt,
    validate_spec,
)

_LATENT_CHANNELS = 4


class Engine:
    """Owns the warm pipelines of one worker process; one ``generate`` call per job."""

    def __init__(self, profile: DeviceProfile | None = None, config: EngineConfig | None = None):
        self.profile = profile or select_device()
        self.config = config or EngineConfig()
        self.pipelines = PipelineCache(self.profile, self.config)
        self.controlnets = ControlNetCache(self.profile, self.config)
        self._fast = self.config.cuda_fast_path()

    @staticmethod
    def free_device_memory() -> None:
        free_device_memory()

    def warm(self, model: str) -> int:
        """Load ``model`` now (if needed) and return the load time in ms."""
        _, load_ms = self.pipelines.get(model)
        return load_ms

    def status(self) -> dict[str, Any]:
        """What is warm in this process (for health endpoints and worker heartbeats)."""
        return {
            "device": self.profile.name,
            "memory_profile": self.pipelines.memory.name,
            "models": {
                source: {
                    "loras": warm.loras.loaded_names,
                    "lora_bytes": warm.loras.loaded_bytes,
                    "ip_adapter": str(warm.ip_adapter.attached or "") or None,
                }
                for source, warm in self.pipelines.items()
            },
            "controlnets": self.controlnets.loaded(),
        }

    def validate(self, spec: GenerationSpec) -> None:
        validate_spec(spec, self.config.limits)

    def prepare_attachments(self, spec: GenerationSpec):
        """The warm model with ``spec``'s LoRAs active and its IP-Adapter attached (detached
        without reference images): (warm model, spec with local attachment paths, resolved
        LoRAs, IP-Adapter weights or None). Solo runs, edits and batches start here."""
        warm, _ = self.pipelines.get(spec.model)
        spec = self.with_local_attachments(spec)
        loras = [resolve_lora(lora) for lora in spec.loras]
        # IP-Adapter processors replace the attention ones: fused QKV only for plain runs.
        plain = not loras and not spec.ip_adapter_images
        sync_qkv_fusion(warm.pipeline, self.profile.device, self._fast, uses_loras=not plain)
        warm.loras.activate(warm.pipeline, loras)
        ip_weights = self._attach_ip_adapter(warm, spec)
        return warm, spec, loras, ip_weights

    def generate_batch(self, members, preview_every: int = 0):
        """Several specs that share model, size, steps, guidance, scheduler, LoRAs and the kind
        of their control/reference inputs in one denoising pass; see ``batching``."""
        from .batching import generate_batch

        return generate_batch(self, members, preview_every)

    def generate(
        self,
        spec: GenerationSpec,
        on_step: StepCallback | None = None,
        on_preview: PreviewCallback | None = None,
        preview_every: int = 0,
    ):
        validate_spec(spec, self.config.limits)
        if spec.mode in EDIT_MODES:
            from .editing import run_edit

            return run_edit(self, spec, on_step)
        started = time.perf_counter()
        warm, spec, loras, ip_weights = self.prepare_attachments(spec)
        controls = (
            prepare_controls(spec.controls, self.controlnets, spec.width, spec.height)
            if spec.controls
            else None
        )
        pipeline = self.pipeline_for(warm, controls)
        pipeline.scheduler = self.scheduler_for(warm, spec)
        load_ms = int((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        try:
            kwargs = self._call_kwargs(pipeline, spec, controls, on_step)
            if on_preview is not None and preview_every > 0:
                kwargs["callback_on_step_end"] = _step_callback(
                    on_step, spec.steps, on_preview, preview_every
                )
            output = pipeline(**kwargs)
        except torch.cuda.OutOfMemoryError as exc:
            free_device_memory()
            raise OutOfMemory(
                f"The GPU ran out of memory at {spec.width}x{spec.height} with "
                f"{spec.num_images} images; try fewer images or a smaller size."
            ) from exc
        inference_ms = int((time.perf_counter() - started) * 1000)

        manifest = self.manifest(warm, pipeline, spec, loras, ip_weights, controls)
        images = [
            ImageOutput(
                image=image, seed=seed, manifest={**manifest, "seed": seed, "batch_index": index}
            )
            for index, (image, seed) in enumerate(zip(output.images, spec.seeds, strict=True))
        ]
        conditioning = controls.images if controls else []
        return GenerationResult(
            images=images,
            load_ms=load_ms,
            inference_ms=inference_ms,
            extra={"conditioning_images": conditioning} if conditioning else {},
            conditioning_images=conditioning,
        )

    def with_local_attachments(self, spec: GenerationSpec) -> GenerationSpec:
        """LoRA files and ControlNet directories may be s3:// URIs: fetch them (once) first."""
        if not any(x.startswith("s3://") for x in [*_lora_paths(spec), *_control_models(spec)]):
            return spec
        sources = self.config.source_config()

        def local(uri: str) -> str:
            return resolve_source(uri, sources, checksum=self.config.checksums.get(uri))

        return replace(
            spec,
            loras=tuple(replace(lora, path=local(lora.path)) for lora in spec.loras),
            controls=tuple(replace(c, model=local(c.model)) for c in spec.controls),
        )

    def _attach_ip_adapter(self, warm: WarmModel, spec: GenerationSpec) -> Path | None:
        if not spec.ip_adapter_images:
            warm.ip_adapter.detach(warm.pipeline)
            return None
        weights = spec.ip_adapter or self.config.ip_adapter
        if not weights:
            raise InvalidSpec("Reference images need an IP-Adapter; none is configured.")
        warm.ip_adapter.attach(warm.pipeline, Path(weights), spec.ip_adapter_scale)
        return Path(weights)

    @staticmethod
    def pipeline_for(warm: WarmModel, controls: PreparedControls | None):
        if controls is None:
            return warm.pipeline
        return build_view(warm.pipeline, controls.pipeline_class, controlnet=controls.controlnet)

    @staticmethod
    def scheduler_for(warm: WarmModel, spec: GenerationSpec):
        # Always a fresh scheduler: they keep per-run state, and a swap must not leak.
        base = warm.default_scheduler_config
        if spec.scheduler:
            return build_scheduler(spec.scheduler, base)
        return warm.default_scheduler_class.from_config(base)

    def _call_kwargs(
        self,
        pipeline,
        spec: GenerationSpec,
        controls: PreparedControls | None,
        on_step: StepCallback | None,
    ) -> dict[str, Any]:
        # CPU generators give the same noise on every device; one per image makes each image
        # of a batch depend only on its own seed.
        generators = [torch.Generator(device="cpu").manual_seed(seed) for seed in spec.seeds]
        kwargs: dict[str, Any] = {
            "prompt": resolved_prompt(spec),
            "negative_prompt": spec.negative_prompt or None,
            "width": spec.width,
            "height": spec.height,
            "num_inference_steps": spec.steps,
            "guidance_scale": spec.guidance_scale,
            "num_images_per_prompt": spec.num_images,
            "generator": generators,
            "latents": self.initial_latents(pipeline, spec, generators),
            "callback_on_step_end": _step_callback(on_step, spec.steps),
        }
        if spec.ip_adapter_images:
            # One adapter, several reference images: its image tokens are concatenated.
            kwargs["ip_adapter_image"] = [list(spec.ip_adapter_images)]
        if controls is not None:
            kwargs.update(controls.call_kwargs)
        return kwargs

    def initial_latents(self, pipeline, spec: GenerationSpec, generators) -> torch.Tensor:
        """Draw each image's starting noise from its own generator (what a batch of one gets)."""
        scale = pipeline.vae_scale_factor
        shape = (_LATENT_CHANNELS, spec.height // scale, spec.width // scale)
        latents = torch.stack([torch.randn(shape, generator=g) for g in generators])
        return latents.to(self.profile.device, dtype=self.profile.dtype)

    def manifest(
        self,
        warm: WarmModel,
        pipeline,
        spec: GenerationSpec,
        loras: list[ResolvedLora],
        ip_weights: Path | None,
        controls: PreparedControls | None,
    ) -> dict[str, Any]:
        manifest: dict[str, Any] = {
            "model": {"source": spec.model, "weights_sha256": model_digests(warm.local_path)},
            "scheduler": {"name": spec.scheduler, **scheduler_record(pipeline.scheduler)},
            "params": {
                "prompt": spec.prompt,
                "resolved_prompt": resolved_prompt(spec),
                "style_template": spec.style_template,
                "negative_prompt": spec.negative_prompt,
                "width": spec.width,
                "height": spec.height,
                "steps": spec.steps,
                "guidance_scale": spec.guidance_scale,
                "seeds": list(spec.seeds),
            },
            "loras": [
                {
                    "name": lora.adapter_name,
                    "path": str(lora.path),
                    "weight": lora.weight,
                    "sha256": lora.sha256,
                }
                for lora in loras
            ],
            "device": self.profile.name,
            "memory_profile": self.pipelines.memory.name,
            "versions": library_versions(),
        }
        if self.config.vae_source:
            manifest["vae"] = {
                "source": self.config.vae_source,
                "weights_sha256": model_digests(self.config.vae_source),
            }
        if ip_weights is not None:
            manifest["ip_adapter"] = {
                "path": str(ip_weights),
                "scale": spec.ip_adapter_scale,
                "weights_sha256": {str(p): file_sha256(p) for p in ip_adapter_files(ip_weights)},
                "reference_images_sha256": [image_sha256(i) for i in spec.ip_adapter_images],
            }
        if controls is not None:
            manifest["controls"] = [
                {
                    "model": control.model,
                    "kind": control.kind,
                    "scale": control.scale,
                    "preprocessed": control.preprocess,
                    "guidance": [control.guidance_start, control.guidance_end],
                    "weights_sha256": weights_digests(Path(control.model)),
                    "image_sha256": image_sha256(image),
                }
                for control, image in zip(spec.controls, controls.images, strict=True)
            ]
        return manifest


def _lora_paths(spec: GenerationSpec) -> list[str]:
    return [lora.path for lora in spec.loras]


def _control_models(spec: GenerationSpec) -> list[str]:
    return [control.model for control in spec.controls]


def _step_callback(
    on_step: StepCallback | None,
    total: int,
    on_preview: PreviewCallback | None = None,
    preview_every: int = 0,
):
    def callback(pipeline, step_index, timestep, callback_kwargs):
        step = step_index + 1
        if on_step is not None:
            # Raising here aborts before the VAE decode; _interrupt alone would still decode.
            on_step(step, total)
        if on_preview is not None and step % preview_every == 0 and step != total:
            on_preview(step, total, latent_preview(callback_kwargs["latents"][0]))
        return callback_kwargs

    return callback


def free_device_memory() -> None:
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


__all__ = ["Engine", "EngineConfig", "GenerationCancelled"]
