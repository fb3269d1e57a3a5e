"""ControlNet and IP-Adapter inputs of a batch. Members share one setup (the same control
models, kinds, scales, guidance windows and preprocessing; the same adapter, scale and
number of reference images) and each brings its own control and reference images, placed
on its own rows of the pass exactly as a solo run would place them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .controlnet import PreparedControls
from .prepared import PreparedJob
from .spec import GenerationSpec


@dataclass
class BatchConditioning:
    """What the pass adds for its members' control and reference images."""

    controls: list[PreparedControls | None]  # per member, for its manifest and result
    call_kwargs: dict[str, Any]
    # The list the pipeline reads the IP-Adapter embeddings from at every step; the batch
    # trims its rows in place when a member leaves.
    ip_embeds: list[torch.Tensor] | None
    # The Union ControlNet pipeline keeps its control images and types out of the step
    # callback's reach, so its rows cannot be dropped mid-pass.
    drops_rows: bool


def prepare_conditioning(job: PreparedJob, device, cfg: bool) -> BatchConditioning:
    """Place every member's control and reference images on its rows; ``job.specs`` share
    one setup (checked by ``batching.check_members``) and their controls are loaded."""
    lead, pipeline, controls = job.spec, job.pipeline, job.controls
    counts = [spec.num_images for spec in job.specs]
    call_kwargs: dict[str, Any] = {}
    if controls[0] is not None:
        call_kwargs.update(_control_kwargs(pipeline, controls, counts, lead.width, lead.height))
    ip_embeds = None
    if lead.ip_adapter_images:
        ip_embeds = _ip_adapter_embeds(pipeline, job.specs, device, cfg)
        call_kwargs["ip_adapter_image_embeds"] = ip_embeds
        # diffusers repeats given embeddings once per prompt row (it expects one prompt's),
        # so the pipeline (a view of its own: this never sticks to the warm pipeline) hands
        # back the per-row list as built, the same list object each step.
        pipeline.prepare_ip_adapter_image_embeds = lambda *args, **kwargs: ip_embeds
    union = controls[0] is not None and "control_image" in controls[0].call_kwargs
    return BatchConditioning(controls, call_kwargs, ip_embeds, drops_rows=not union)


def _control_kwargs(pipeline, controls: list[PreparedControls], counts, width, height) -> dict:
    """The lead's scales and guidance windows, with one image batch per control: each
    member's image on each of its rows. Tensors, since the multi-ControlNet pipeline takes
    no nested image lists; the pipeline's own preprocessing leaves them as they are."""
    lead = controls[0]
    processor = pipeline.control_image_processor
    per_control = [
        torch.cat(
            [
                processor.preprocess(prepared.images[position], height=height, width=width).repeat(
                    count, 1, 1, 1
                )
                for prepared, count in zip(controls, counts, strict=True)
            ]
        )
        for position in range(len(lead.images))
    ]
    image_key = "control_image" if "control_image" in lead.call_kwargs else "image"
    return {**lead.call_kwargs, image_key: per_control}


def _ip_adapter_embeds(pipeline, specs: list[GenerationSpec], device, cfg: bool) -> list:
    """Per adapter: [every member's negative rows; every member's positive rows], each
    member's embeddings computed exactly as its solo call computes them."""
    members = [
        pipeline.prepare_ip_adapter_image_embeds(
            ip_adapter_image=[list(spec.ip_adapter_images)],
            ip_adapter_image_embeds=None,
            device=device,
            num_images_per_prompt=spec.num_images,
            do_classifier_free_guidance=cfg,
        )
        for spec in specs
    ]
    embeds = []
    for adapter in range(len(members[0])):
        rows = [member[adapter] for member in members]
        if cfg:
            halves = [row.chunk(2) for row in rows]
            rows = [negative for negative, _ in halves] + [positive for _, positive in halves]
        embeds.append(torch.cat(rows))
    return embeds
