"""The batch run: several jobs in one denoising pass. Each member keeps its own prompt,
negative prompt, seeds, control and reference images, step callback, preview callback and
manifest; its images equal a run of it alone (prompts and reference images are encoded per
member exactly as a solo run encodes them, each image's noise comes from its own seed's
generator). Members share one ControlNet/IP-Adapter setup or have none
(``batch_conditioning``). A member whose step callback raises GenerationCancelled leaves the
batch at that step: its rows are sliced out of the latents, the embeddings, the control
images, the IP-Adapter embeddings and the scheduler state, and the others go on. With a
Union ControlNet its rows cannot be reached, so they stay in the pass to the end and its
images are thrown away."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import torch

from .. import results
from ..batch_conditioning import BatchConditioning, prepare_conditioning
from ..batching import BatchMember, BatchResult, check_members
from ..errors import GenerationCancelled
from ..preview import latent_preview
from ..spec import GenerationResult, GenerationSpec, resolved_prompt
from .steps import elapsed_ms, initial_latents, seed_generators

if TYPE_CHECKING:
    from ..prepared import Runner

# Per-sample state some schedulers keep between steps (DPM-Solver++'s history).
_SCHEDULER_ROW_STATE = ("model_outputs", "sample", "last_sample")


def run_batch(engine: Runner, members: list[BatchMember], preview_every: int = 0) -> BatchResult:
    check_members(members)
    started = time.perf_counter()
    specs = [member.spec for member in members]
    with engine.prepare(specs[0], members=specs[1:]) as job:
        specs, lead, pipeline = job.specs, job.spec, job.pipeline
        device = engine.profile.device
        cfg = lead.guidance_scale > 1 and pipeline.unet.config.time_cond_proj_dim is None
        conditioning = prepare_conditioning(job, device, cfg)
        embeddings = [_encode(pipeline, device, spec, cfg) for spec in specs]
        load_ms = elapsed_ms(started)
        seeds = [seed for spec in specs for seed in spec.seeds]
        tracker: _RowTracker | None = None

        def call_kwargs() -> dict[str, Any]:
            nonlocal tracker
            generators = seed_generators(seeds)
            tracker = _RowTracker(members, cfg, pipeline, generators, preview_every, conditioning)
            return {
                "prompt_embeds": torch.cat([e[0] for e in embeddings]),
                "negative_prompt_embeds": torch.cat([e[1] for e in embeddings]) if cfg else None,
                "pooled_prompt_embeds": torch.cat([e[2] for e in embeddings]),
                "negative_pooled_prompt_embeds": (
                    torch.cat([e[3] for e in embeddings]) if cfg else None
                ),
                "width": lead.width,
                "height": lead.height,
                "num_inference_steps": lead.steps,
                "guidance_scale": lead.guidance_scale,
                "num_images_per_prompt": 1,
                "generator": generators,
                "latents": initial_latents(
                    pipeline, lead, generators, device, engine.profile.dtype
                ),
                "callback_on_step_end": tracker,
                "callback_on_step_end_tensor_inputs": tracker.tensor_inputs(),
                **conditioning.call_kwargs,
            }

        started = time.perf_counter()
        output = engine.denoise(
            job,
            call_kwargs,
            size=(lead.width, lead.height),
            images=len(seeds),
            out_of_memory=(
                f"The GPU ran out of memory denoising {len(seeds)} images at "
                f"{lead.width}x{lead.height}."
            ),
        )
        inference_ms = elapsed_ms(started)
        assert tracker is not None
        member_results = _member_results(
            job, specs, list(output.images), tracker, load_ms, inference_ms
        )
    return BatchResult(
        results=member_results,
        cancelled=tracker.cancelled,
        batch_size=len(seeds),
        load_ms=load_ms,
        inference_ms=inference_ms,
        extra={"preview_ms": tracker.preview_ms},
    )


def _member_results(job, specs, images, tracker, load_ms, inference_ms):
    size = sum(spec.num_images for spec in specs)
    member_results: list[GenerationResult | None] = []
    remaining = iter(images)
    for index, spec in enumerate(specs):
        if index not in tracker.present:  # its rows left the pass
            member_results.append(None)
            continue
        member_images = [next(remaining) for _ in spec.seeds]
        if tracker.cancelled[index] is not None:  # rode along to the end: discarded
            member_results.append(None)
            continue
        record = results.manifest(job, job.pipeline.scheduler, member=index)
        record["batch"] = {"size": size, "jobs": len(specs)}
        member_results.append(
            results.generation_result(
                spec,
                member_images,
                record,
                load_ms=load_ms,
                inference_ms=inference_ms,
                controls=job.controls[index],
            )
        )
    return member_results


def _encode(pipeline, device, spec: GenerationSpec, cfg: bool):
    """The member's embeddings, computed exactly as a solo pipeline call computes them."""
    return pipeline.encode_prompt(
        prompt=resolved_prompt(spec),
        device=device,
        num_images_per_prompt=spec.num_images,
        do_classifier_free_guidance=cfg,
        negative_prompt=spec.negative_prompt or None,
    )


class _RowTracker:
    """The step-end callback of a batch: reports each member's step, drops cancelled
    members' rows, and renders previews every ``preview_every`` steps."""

    TENSORS = ("latents", "prompt_embeds", "add_text_embeds", "add_time_ids")

    def __init__(
        self,
        members,
        cfg: bool,
        pipeline,
        generators: list,
        preview_every: int,
        conditioning: BatchConditioning,
    ):
        self.members = members
        self.cfg = cfg
        self.pipeline = pipeline
        self.generators = generators  # the list the pipeline holds: trimmed in place
        self.preview_every = preview_every
        self.conditioning = conditioning
        self.total = members[0].spec.steps
        self.cancelled: list[GenerationCancelled | None] = [None] * len(members)
        self.present = list(range(len(members)))  # members whose rows are in the pass
        self.preview_ms = 0

    def tensor_inputs(self) -> list[str]:
        # The ControlNet pipeline hands its control images ("image") to the callback too.
        wanted = [*self.TENSORS, "image"] if self.conditioning.controls[0] else self.TENSORS
        return [name for name in wanted if name in self.pipeline._callback_tensor_inputs]

    def _active(self) -> list[int]:
        return [i for i, reason in enumerate(self.cancelled) if reason is None]

    def __call__(self, pipeline, step_index, timestep, callback_kwargs):
        step = step_index + 1
        for index in self._active():
            member = self.members[index]
            if member.on_step is None:
                continue
            try:
                member.on_step(step, self.total)
            except GenerationCancelled as exc:
                self.cancelled[index] = exc
        active = self._active()
        if not active:
            # Everyone left: abort before the VAE decode, as a solo cancel does.
            raise next(reason for reason in self.cancelled if reason is not None)
        if active != self.present and self.conditioning.drops_rows:
            callback_kwargs = self._drop_rows(callback_kwargs, active)
            self.present = active
        if self.preview_every and step % self.preview_every == 0 and step != self.total:
            self._previews(callback_kwargs["latents"], active, step)
        return callback_kwargs

    def _rows(self) -> dict[int, list[int]]:
        """Each present member's rows of the latents."""
        rows, start = {}, 0
        for index in self.present:
            count = self.members[index].spec.num_images
            rows[index] = list(range(start, start + count))
            start += count
        return rows

    def _drop_rows(self, kwargs: dict, active: list[int]) -> dict:
        rows = self._rows()
        keep = [row for index in active for row in rows[index]]
        old = sum(len(member_rows) for member_rows in rows.values())
        index = torch.tensor(keep, device=kwargs["latents"].device)
        # With guidance the embeddings are [negatives; positives]: keep both halves' rows.
        doubled = torch.cat([index, index + old]) if self.cfg else index
        kwargs["latents"] = kwargs["latents"][index]
        kwargs["prompt_embeds"] = kwargs["prompt_embeds"][doubled]
        kwargs["add_text_embeds"] = kwargs["add_text_embeds"][doubled]
        # Every row's time ids are the same (one size per batch): keep as many as rows remain.
        kwargs["add_time_ids"] = kwargs["add_time_ids"][: len(doubled)]
        if "image" in kwargs:  # one control image batch per ControlNet
            kwargs["image"] = [_take(image, old, index, doubled) for image in kwargs["image"]]
        ip_embeds = self.conditioning.ip_embeds
        if ip_embeds is not None:
            ip_embeds[:] = [_take(embeds, old, index, doubled) for embeds in ip_embeds]
        self.generators[:] = [self.generators[row] for row in keep]
        scheduler = self.pipeline.scheduler
        for name in _SCHEDULER_ROW_STATE:
            value = getattr(scheduler, name, None)
            if isinstance(value, torch.Tensor) and value.shape[0] == old:
                setattr(scheduler, name, value[index.to(value.device)])
            elif isinstance(value, list):
                setattr(
                    scheduler,
                    name,
                    [
                        v[index.to(v.device)]
                        if isinstance(v, torch.Tensor) and v.shape[0] == old
                        else v
                        for v in value
                    ],
                )
        return kwargs

    def _previews(self, latents: torch.Tensor, active: list[int], step: int) -> None:
        started = time.perf_counter()
        rows = self._rows()
        for index in active:
            member = self.members[index]
            if member.on_preview is not None:
                member.on_preview(step, self.total, latent_preview(latents[rows[index][0]]))
        self.preview_ms += int((time.perf_counter() - started) * 1000)


def _take(tensor: torch.Tensor, old: int, index: torch.Tensor, doubled: torch.Tensor):
    """The kept rows of a tensor of ``old`` rows, or of 2 * ``old`` with guidance
    ([negatives; positives])."""
    rows = doubled if tensor.shape[0] == 2 * old else index
    return tensor[rows.to(tensor.device)]
