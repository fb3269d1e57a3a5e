"""The ``Engine``: the warm state of one worker process, and its entry points.

The engine owns what lives between jobs: the device, the warm pipelines (``loading``), their
LoRA adapters, IP-Adapter and resting state (``resting``), the ControlNets, and what
``torch.compile`` built (``compilation``). A job enters through ``generate`` or
``generate_batch`` and is handed to its run (``runs``: text, batch, img2img, inpaint, upscale,
face repair), which uses the engine through two methods only: ``prepare`` (the warm pipeline
made ready for its specs, and put back to rest when the run ends, however it ends) and
``denoise`` (one guarded pipeline call). Runs never import each other, and nothing here
imports Django."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from .batching import BatchMember, BatchResult
from .compilation import UnetCompiler
from .config import EngineConfig
from .controlnet import ControlNetCache, prepare_controls
from .devices import DeviceProfile, enable_tf32, select_device
from .errors import GenerationCancelled, InvalidSpec
from .loading import PipelineCache, WarmModel
from .lora import resolve_lora
from .memory import out_of_memory_as
from .model_keys import split_model_key
from .prepared import PreparedJob
from .preview import PreviewCallback
from .residency import RESIDENT, ModelLoad
from .resting import RestingState
from .runs.batch import run_batch
from .runs.edit import run_img2img, run_inpaint
from .runs.face_repair import run_face_repair
from .runs.text import run_text
from .runs.unchanged import run_unchanged, runs_no_model
from .runs.upscale import run_upscale
from .schedulers import build_scheduler
from .sources import resolve_source
from .spec import GenerationResult, GenerationSpec, StepCallback, validate_spec
from .views import pipeline_view

logger = logging.getLogger(__name__)

_EDIT_RUNS = {
    "img2img": run_img2img,
    "inpaint": run_inpaint,
    "upscale": run_upscale,
    "face_repair": run_face_repair,
}


class Engine:
    """Owns the warm pipelines of one worker process; one ``generate`` call per job."""

    def __init__(self, profile: DeviceProfile | None = None, config: EngineConfig | None = None):
        self.profile = profile or select_device()
        self.config = config or EngineConfig()
        self._resting: dict[str, RestingState] = {}
        self._model_loads: list[ModelLoad] = []  # of the entry point running now
        self.pipelines = PipelineCache(self.profile, self.config, on_drop=self._forget)
        self.controlnets = ControlNetCache(self.profile, self.config)
        self.compiler = UnetCompiler(self.config)
        if self.profile.device.startswith("cuda"):
            enable_tf32()

    # Warm state -------------------------------------------------------------------------

    def warm(self, model: str) -> int:
        """Load ``model`` now (if needed) and return the load time in ms."""
        _, load_ms = self.pipelines.get(model)
        return load_ms

    def warm_up(self, model: str) -> dict[str, Any]:
        """Load ``model`` and, with ``compile_unet``, compile the UNet at every served bucket
        (``config.compile_buckets``) so no user's job compiles. Returns at least
        ``{"load_ms", "compile_ms", "graphs", "buckets", "per_bucket"}``."""
        load_ms = self.warm(model)
        self._rest_for(model)  # the LoRA hot-swap slots go in before the UNet is compiled
        return {"load_ms": load_ms, **self.compiler.warm_up(self, model)}

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
            "compile": self.compiler.status(),
            "residency": self.pipelines.status(),
        }

    def resting_state(self, model: str) -> dict[str, Any]:
        """The warm pipeline's state between jobs, as plain data (see ``resting``)."""
        return self._rest_for(model).describe()

    # Entry points -----------------------------------------------------------------------

    def generate(
        self,
        spec: GenerationSpec,
        on_step: StepCallback | None = None,
        on_preview: PreviewCallback | None = None,
        preview_every: int = 0,
    ) -> GenerationResult:
        """One job: text (with LoRAs, reference images, controls) or an edit mode. ``on_step``
        may raise GenerationCancelled to stop before the VAE decode."""
        validate_spec(spec, self.config.limits)
        self._model_loads = []
        if spec.mode == "text":
            result = run_text(self, spec, on_step, on_preview, preview_every)
        elif runs_no_model(spec):
            result = run_unchanged(spec, self.profile.name, on_step)
        else:
            result = _EDIT_RUNS[spec.mode](self, spec, on_step)
        result.extra["model_load"] = self._model_load()
        return result

    def generate_batch(self, members: list[BatchMember], preview_every: int = 0) -> BatchResult:
        """Several specs that share model, size, steps, guidance, scheduler, LoRAs and the kind
        of their control/reference inputs in one denoising pass; see ``runs.batch``."""
        self._model_loads = []
        result = run_batch(self, members, preview_every)
        result.extra["model_load"] = self._model_load()
        return result

    # What runs use ----------------------------------------------------------------------

    @contextmanager
    def prepare(
        self,
        spec: GenerationSpec,
        *,
        kind: str = "text",
        size: tuple[int, int] | None = None,
        members: list[GenerationSpec] | tuple = (),
    ) -> Iterator[PreparedJob]:
        """The warm pipeline ready for ``spec`` (and a batch's other ``members``, which share
        its setup): attachments fetched, the lead's LoRAs and IP-Adapter active, the attention
        processors that combination needs, every spec's controls loaded at ``size`` (default:
        the spec's), and a view of the ``kind``'s pipeline class. On leaving, however the run
        ended, the pipeline is back at rest."""
        specs = [spec, *members]
        for each in specs:
            validate_spec(each, self.config.limits)
        warm, load = self.pipelines.fetch(spec.model)
        self._model_loads.append(load)
        rest = self._rest_for(spec.model)
        specs = [self._with_local_attachments(each) for each in specs]
        lead = specs[0]
        try:
            loras = [resolve_lora(lora) for lora in lead.loras]
            if loras:  # LoRA layers go into the text encoders: never into a shared one
                self.pipelines.own_parts(spec.model, ("text_encoder", "text_encoder_2"))
            warm.loras.activate(warm.pipeline, loras)
            ip_weights, ip_processors = self._use_ip_adapter(warm, rest, lead)
            processors = rest.attention.for_job(loras=bool(loras), ip_adapter=ip_processors)
            rest.attention.apply(warm.pipeline.unet, processors)
            if ip_processors is not None:
                warm.pipeline.set_ip_adapter_scale(lead.ip_adapter_scale)
            width, height = size or (lead.width, lead.height)
            controls = [
                prepare_controls(each.controls, self.controlnets, width, height)
                if each.controls
                else None
                for each in specs
            ]
            rest.freeze()  # peft made the active adapters trainable; an IP-Adapter came so
            yield PreparedJob(
                specs=specs,
                controls=controls,
                pipeline=pipeline_view(warm.pipeline, kind, controls[0]),
                loras=loras,
                ip_weights=ip_weights,
                model_path=warm.local_path,
                device=self.profile.name,
                memory_profile=self.pipelines.memory.name,
                vae_source=split_model_key(spec.model)[1] or self.config.vae_source,
                new_scheduler=_scheduler_factory(warm, lead.scheduler),
                resting=rest,
            )
        finally:
            rest.restore()

    def denoise(
        self,
        job: PreparedJob,
        call_kwargs: Callable[[], dict[str, Any]],
        *,
        size: tuple[int, int],
        images: int,
        out_of_memory: str,
    ):
        """One call of ``job.pipeline`` with a fresh scheduler and ``call_kwargs()`` (built
        here, so a pass that must run again starts from fresh generators), for ``images``
        images at ``size``: compiled where the UNet was compiled for that shape and kind of
        job, else eager (never compiling in the call). A CUDA out-of-memory error frees the
        pass and raises OutOfMemory(``out_of_memory``); the pipeline's modules are back in
        their resting dtypes afterwards, whatever diffusers cast them to."""
        with out_of_memory_as(lambda: out_of_memory):
            try:
                return self.compiler.run(
                    job, lambda: _call(job, call_kwargs), size=size, images=images
                )
            finally:
                job.resting.restore_dtypes()

    # Internals --------------------------------------------------------------------------

    def _model_load(self) -> dict[str, Any]:
        """How the run now ending got its model: ``{"ms", "tier"}`` (tier ``resident`` and 0
        ms when it was on the device; a run with no model: resident)."""
        slow = [load for load in self._model_loads if load.tier != RESIDENT]
        return {
            "ms": sum(load.ms for load in slow),
            "tier": slow[0].tier if slow else RESIDENT,
        }

    def _forget(self, source: str) -> None:
        """A model left every tier: its resting state goes with it."""
        self._resting.pop(source, None)

    def _rest_for(self, model: str) -> RestingState:
        warm, _ = self.pipelines.get(model)
        rest = self._resting.get(model)
        if rest is None or rest.pipeline is not warm.pipeline:  # first job, or reloaded
            config = self.config
            slots = (config.lora_hotswap_slots, config.lora_hotswap_max_rank)
            rest = self._resting[model] = RestingState(
                warm,
                fuse_qkv=config.cuda_fast_path().fuses_on(self.profile.device),
                hotswap_slots=slots if config.lora_hotswap else None,
            )
        return rest

    def _use_ip_adapter(self, warm: WarmModel, rest: RestingState, spec: GenerationSpec):
        if not spec.ip_adapter_images:
            return None, None
        weights = spec.ip_adapter or self.config.ip_adapter
        if not weights:
            raise InvalidSpec("Reference images need an IP-Adapter; none is configured.")
        processors = warm.ip_adapter.use(warm.pipeline, Path(weights), rest.attention.plain)
        return Path(weights), processors

    def _with_local_attachments(self, spec: GenerationSpec) -> GenerationSpec:
        """LoRA files and ControlNet directories may be s3:// URIs: fetch them (once) first."""
        uris = [lora.path for lora in spec.loras] + [c.model for c in spec.controls]
        if not any(uri.startswith("s3://") for uri in uris):
            return spec
        sources = self.config.source_config()

        def local(uri: str) -> str:
            return resolve_source(uri, sources, checksum=self.config.checksums.get(uri))

        return replace(
            spec,
            loras=tuple(replace(lora, path=local(lora.path)) for lora in spec.loras),
            controls=tuple(replace(c, model=local(c.model)) for c in spec.controls),
        )


def _scheduler_factory(warm: WarmModel, name: str | None) -> Callable[[], Any]:
    # Always a fresh scheduler: they keep per-run state, and a swap must not leak.
    def new_scheduler():
        base = warm.default_scheduler_config
        if name:
            return build_scheduler(name, base)
        return warm.default_scheduler_class.from_config(base)

    return new_scheduler


def _call(job: PreparedJob, call_kwargs: Callable[[], dict[str, Any]]):
    job.pipeline.scheduler = job.new_scheduler()
    return job.pipeline(**call_kwargs())


__all__ = ["Engine", "EngineConfig", "GenerationCancelled"]
