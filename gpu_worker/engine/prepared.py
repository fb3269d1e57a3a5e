"""What a run gets from the engine: ``Runner``, the part of ``Engine`` runs use (so they
depend on this, never on ``generate``), and ``PreparedJob``, its specs ready on the warm
pipeline."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .controlnet import PreparedControls
from .devices import DeviceProfile
from .lora import ResolvedLora
from .resting import RestingState
from .spec import GenerationSpec


@dataclass
class PreparedJob:
    """One run's specs (a solo run: one; a batch: the lead first) with local attachment
    paths, the warm model with the lead's LoRAs and IP-Adapter active, each spec's controls
    loaded and sized, and the view of the warm pipeline the run calls. What ``results``
    needs for the manifests travels with it."""

    specs: list[GenerationSpec]
    controls: list[PreparedControls | None]
    pipeline: Any
    loras: list[ResolvedLora]
    ip_weights: Path | None
    model_path: str  # what was loaded: a directory, a single file or a hub repo id
    device: str  # the device profile's name, e.g. "cuda/float16"
    memory_profile: str
    vae_source: str | None
    new_scheduler: Callable[[], Any]  # a fresh scheduler of the spec's kind, per pass
    resting: RestingState

    @property
    def spec(self) -> GenerationSpec:
        return self.specs[0]


class Runner(Protocol):
    """What a run uses of the engine (``generate.Engine`` is the one there is): its device
    profile, ``prepare`` (the warm pipeline ready for the specs, put back at rest on leaving)
    and ``denoise`` (one guarded pipeline call). See ``Engine`` for the contracts."""

    profile: DeviceProfile

    def prepare(
        self,
        spec: GenerationSpec,
        *,
        kind: str = "text",
        size: tuple[int, int] | None = None,
        members: list[GenerationSpec] | tuple = (),
    ) -> AbstractContextManager[PreparedJob]: ...

    def denoise(
        self,
        job: PreparedJob,
        call_kwargs: Callable[[], dict[str, Any]],
        *,
        size: tuple[int, int],
        images: int,
        out_of_memory: str,
    ) -> Any: ...
