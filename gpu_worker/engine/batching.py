"""Several jobs in one denoising pass. Each member keeps its own prompt, negative prompt,
seeds, step callback, preview callback and manifest; its images equal a run of it alone
(prompts are encoded per member exactly as a solo run encodes them, and each image's noise
comes from its own seed's generator). A member whose step callback raises
GenerationCancelled leaves the batch at that step: its rows are sliced out of the latents,
the embeddings and the scheduler state, and the others go on."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from .errors import GenerationCancelled, InvalidSpec, OutOfMemory
from .preview import PreviewCallback, latent_preview
from .spec import GenerationResult, GenerationSpec, ImageOutput, StepCallback, resolved_prompt

if TYPE_CHECKING:
    from .generate import Engine

# Per-sample state some schedulers keep between steps (DPM-Solver++'s history).
_SCHEDULER_ROW_STATE = ("model_outputs", "sample", "last_sample")


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


def check_members(members: list[BatchMember]) -> None:
    if not members:
        raise InvalidSpec("A batch needs at least one member.")
    first = pass_signature(members[0].spec)
    for member in members:
        if member.spec.ip_adapter_images or member.spec.controls:
            raise InvalidSpec("Jobs with reference or control images run alone, not in a batch.")
        if pass_signature(member.spec) != first:
            raise InvalidSpec("Batch members differ in model, size, steps, guidance or LoRAs.")


def generate_batch(engine: Engine, members: list[BatchMember], preview_every: int = 0):
    check_members(members)
    for member in members:
        engine.validate(member.spec)
    lead = members[0].spec
    started = time.perf_counter()
    warm, pipeline, loras = engine.prepare_text_pipeline(lead)
    cfg = lead.guidance_scale > 1 and pipeline.unet.config.time_cond_proj_dim is None
    embeddings = [_encode(pipeline, engine, member.spec, cfg) for member in members]
    load_ms = int((time.perf_counter() - started) * 1000)

    seeds = [seed for member in members for seed in member.spec.seeds]
    generators = [torch.Generator(device="cpu").manual_seed(seed) for seed in seeds]
    tracker = _RowTracker(members, cfg, pipeline, generators, preview_every)
    started = time.perf_counter()
    try:
        output = pipeline(
            prompt_embeds=torch.cat([e[0] for e in embeddings]),
            negative_prompt_embeds=torch.cat([e[1] for e in embeddings]) if cfg else None,
            pooled_prompt_embeds=torch.cat([e[2] for e in embeddings]),
            negative_pooled_prompt_embeds=torch.cat([e[3] for e in embeddings]) if cfg else None,
            width=lead.width,
            height=lead.height,
            num_inference_steps=lead.steps,
            guidance_scale=lead.guidance_scale,
            num_images_per_prompt=1,
            generator=generators,
            latents=engine.initial_latents(pipeline, lead, generators),
            callback_on_step_end=tracker,
            callback_on_step_end_tensor_inputs=list(_RowTracker.TENSORS),
        )
    except torch.cuda.OutOfMemoryError as exc:
        engine.free_device_memory()
        raise OutOfMemory(
            f"The GPU ran out of memory denoising {len(seeds)} images at "
            f"{lead.width}x{lead.height}."
        ) from exc
    inference_ms = int((time.perf_counter() - started) * 1000)

    results: list[GenerationResult | None] = []
    images = iter(output.images)
    for index, member in enumerate(members):
        if tracker.cancelled[index] is not None:
            results.append(None)
            continue
        manifest = engine.manifest(warm, pipeline, member.spec, loras, None, None)
        manifest["batch"] = {"size": len(seeds), "jobs": len(members)}
        outputs = [
            ImageOutput(
                image=next(images),
                seed=seed,
                manifest={**manifest, "seed": seed, "batch_index": position},
            )
            for position, seed in enumerate(member.spec.seeds)
        ]
        results.append(GenerationResult(images=outputs, load_ms=load_ms, inference_ms=inference_ms))
    return BatchResult(
        results=results,
        cancelled=tracker.cancelled,
        batch_size=len(seeds),
        load_ms=load_ms,
        inference_ms=inference_ms,
        extra={"preview_ms": tracker.preview_ms},
    )


def _encode(pipeline, engine: Engine, spec: GenerationSpec, cfg: bool):
    """The member's embeddings, computed exactly as a solo pipeline call computes them."""
    return pipeline.encode_prompt(
        prompt=resolved_prompt(spec),
        device=engine.profile.device,
        num_images_per_prompt=spec.num_images,
        do_classifier_free_guidance=cfg,
        negative_prompt=spec.negative_prompt or None,
    )


class _RowTracker:
    """The step-end callback of a batch: reports each member's step, drops cancelled
    members' rows, and renders previews every ``preview_every`` steps."""

    TENSORS = ("latents", "prompt_embeds", "add_text_embeds", "add_time_ids")

    def __init__(self, members, cfg: bool, pipeline, generators: list, preview_every: int):
        self.members = members
        self.cfg = cfg
        self.pipeline = pipeline
        self.generators = generators  # the list the pipeline holds: trimmed in place
        self.preview_every = preview_every
        self.total = members[0].spec.steps
        self.cancelled: list[GenerationCancelled | None] = [None] * len(members)
        self.preview_ms = 0

    def _active(self) -> list[int]:
        return [i for i, reason in enumerate(self.cancelled) if reason is None]

    def __call__(self, pipeline, step_index, timestep, callback_kwargs):
        step = step_index + 1
        before = self._active()
        for index in before:
            member = self.members[index]
            if member.on_step is None:
                continue
            try:
                member.on_step(step, self.total)
            except GenerationCancelled as exc:
                self.cancelled[index] = exc
        after = self._active()
        if not after:
            # Everyone left: abort before the VAE decode, as a solo cancel does.
            raise next(reason for reason in self.cancelled if reason is not None)
        if after != before:
            callback_kwargs = self._drop_rows(callback_kwargs, before, after)
        if self.preview_every and step % self.preview_every == 0 and step != self.total:
            self._previews(callback_kwargs["latents"], after, step)
        return callback_kwargs

    def _rows(self, active: list[int]) -> list[tuple[int, list[int]]]:
        rows, start = [], 0
        for index in active:
            count = self.members[index].spec.num_images
            rows.append((index, list(range(start, start + count))))
            start += count
        return rows

    def _drop_rows(self, kwargs: dict, before: list[int], after: list[int]) -> dict:
        kept_members = set(after)
        keep = [row for index, rows in self._rows(before) if index in kept_members for row in rows]
        old = sum(len(rows) for _, rows in self._rows(before))
        index = torch.tensor(keep, device=kwargs["latents"].device)
        # With guidance the embeddings are [negatives; positives]: keep both halves' rows.
        doubled = torch.cat([index, index + old]) if self.cfg else index
        kwargs["latents"] = kwargs["latents"][index]
        kwargs["prompt_embeds"] = kwargs["prompt_embeds"][doubled]
        kwargs["add_text_embeds"] = kwargs["add_text_embeds"][doubled]
        # Every row's time ids are the same (one size per batch): keep as many as rows remain.
        kwargs["add_time_ids"] = kwargs["add_time_ids"][: len(doubled)]
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
        for index, rows in self._rows(active):
            member = self.members[index]
            if member.on_preview is not None:
                member.on_preview(step, self.total, latent_preview(latents[rows[0]]))
        self.preview_ms += int((time.perf_counter() - started) * 1000)
