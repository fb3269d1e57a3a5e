"""What may share a denoising pass, and what a pass takes and gives: ``BatchMember`` in,
``BatchResult`` out. ``same_pass`` is what the worker's scheduler asks before it groups jobs;
the pass itself is ``runs.batch``. Members share model, size, steps, guidance, scheduler and
LoRAs, and one ControlNet/IP-Adapter setup (without its images) or none."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import GenerationCancelled, InvalidSpec
from .preview import PreviewCallback
from .spec import GenerationResult, GenerationSpec, StepCallback


@dataclass
class BatchMember:
    spec: GenerationSpec
    on_step: StepCallback | None = None
    on_preview: PreviewCallback | None = None


@dataclass
class BatchResult:
    """``results[i]`` is member i's result, or None when it was cancelled (its reason in
    ``cancelled[i]``)."""

    results: list[GenerationResult | None]
    cancelled: list[GenerationCancelled | None]
    batch_size: int  # images denoised together at the first step
    load_ms: int
    inference_ms: int
    extra: dict[str, Any] = field(default_factory=dict)


def pass_signature(spec: GenerationSpec) -> tuple:
    """What members of one pass must share."""
    return (
        spec.model,
        spec.width,
        spec.height,
        spec.steps,
        spec.guidance_scale,
        spec.scheduler,
        tuple((lora.path, lora.weight, lora.name) for lora in spec.loras),
    )


def controls_signature(spec: GenerationSpec) -> tuple:
    """The control setup without its images; () for none."""
    return tuple(
        (c.model, c.kind, float(c.scale), c.preprocess, c.guidance_start, c.guidance_end)
        for c in spec.controls
    )


def ip_adapter_signature(spec: GenerationSpec) -> tuple | None:
    """The IP-Adapter setup without its images; None without reference images."""
    if not spec.ip_adapter_images:
        return None
    return (spec.ip_adapter, float(spec.ip_adapter_scale), len(spec.ip_adapter_images))


def same_pass(lead: GenerationSpec, spec: GenerationSpec) -> bool:
    """Whether ``spec`` may join a pass that ``lead`` leads (what ``check_members`` asks)."""
    signatures = (pass_signature, controls_signature, ip_adapter_signature)
    return all(signature(spec) == signature(lead) for signature in signatures)


def check_members(members: list[BatchMember]) -> None:
    if not members:
        raise InvalidSpec("A batch needs at least one member.")
    lead = members[0].spec
    for member in members[1:]:
        spec = member.spec
        if pass_signature(spec) != pass_signature(lead):
            raise InvalidSpec("Batch members differ in model, size, steps, guidance or LoRAs.")
        if controls_signature(spec) != controls_signature(lead):
            raise InvalidSpec(
                "Batch members differ in ControlNet setup: each needs the same control models, "
                "kinds, scales, guidance windows and preprocessing, in the same order, or none."
            )
        if ip_adapter_signature(spec) != ip_adapter_signature(lead):
            raise InvalidSpec(
                "Batch members differ in IP-Adapter setup: each needs the same adapter, scale "
                "and number of reference images, or no reference images."
            )
