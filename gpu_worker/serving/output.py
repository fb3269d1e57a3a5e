"""What generating a job produced, on its way to storage (``JobOutput``), and how an engine
result becomes part of it (``add_result``: every image scored for identity and repaired where
the job asks). Solo runs and batch passes both end here.

Identity scores are taken on the denoising thread only when the run itself decides on them
(the consistency filter re-rolls, a repair pass follows a rejection); otherwise the storage
stage scores the images (``score_deferred``) while the next pass denoises."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.db.models import F
from PIL import Image

from generation.models import GeneratedImage

from ..model_registry import name_model, record_weights
from ..repair_loop import repair_enabled, repair_rejected
from ..scoring import IdentityScorer, extra_character_scorers


@dataclass
class JobOutput:
    """What a run produced: every image, the accepted ones marked, and the timings."""

    images: list[GeneratedImage] = field(default_factory=list)
    conditioning: list[tuple[str, Image.Image]] = field(default_factory=list)
    conditioning_records: list[dict] = field(default_factory=list)
    generated: int = 0  # before rejected images are dropped (ILLU_KEEP_REJECTED_IMAGES)
    timings: dict[str, int | str] = field(default_factory=dict)
    # Engine time its images took this attempt: its share of each pass, its repairs.
    gpu_ms: int = 0
    # Scores the images before they are stored, off the denoising thread (see the module).
    deferred_scorer: IdentityScorer | None = None

    def add_time(self, key: str, ms: int) -> None:
        self.timings[key] = self.timings.get(key, 0) + ms

    def row_changes(self) -> dict:
        """What the row gets when this attempt ends (however it ends): the timings, and the
        engine time added to what earlier attempts of the row took."""
        return {"timings": self.timings, "gpu_ms": F("gpu_ms") + self.gpu_ms}

    def add_model_load(self, model_load: dict | None) -> None:
        """``model_load_ms`` (0 when the model was resident) and ``model_tier``: where the
        job's model came from (``resident``, ``host`` memory or ``disk``), from the engine's
        ``result.extra["model_load"]``; a job with several passes keeps its first load."""
        model_load = model_load or {"ms": 0, "tier": "resident"}
        self.add_time("model_load_ms", int(model_load["ms"]))
        if self.timings.get("model_tier") in (None, "resident"):
            self.timings["model_tier"] = model_load["tier"]


def add_result(job, spec, result, output: JobOutput, scorer: IdentityScorer | None, reporter):
    """Add an engine result to the job's output: its control images (once), and every image,
    scored for identity and repaired where the job asks (or left to ``score_deferred``)."""
    if not output.conditioning:
        kinds = [control.kind for control in spec.controls]
        output.conditioning = list(zip(kinds, result.conditioning_images, strict=False))
    if scorer is not None and not scores_decide_the_run(job):
        output.deferred_scorer, scorer = scorer, None
    images = []
    for generated in result.images:
        image = GeneratedImage(
            job=job,
            index=len(output.images) + len(images),
            width=generated.image.width,
            height=generated.image.height,
            seed=generated.seed,
            manifest=name_model(generated.manifest, job.params["model"]),
        )
        image._pil = generated.image  # kept until upload
        images.append(image)
    if images:
        record_weights(images[0].manifest)
    if scorer is not None:
        _score(images, scorer, output)
        for image in images:
            if not image.accepted and repair_enabled(job):
                output.gpu_ms += repair_rejected(job, spec, image, scorer, reporter)
    output.images.extend(images)


def scores_decide_the_run(job) -> bool:
    """Whether the run needs each image's identity score at once: the consistency filter
    re-rolls on it, and a rejected image gets a repair pass."""
    consistency = job.params.get("consistency") or {}
    return bool(consistency.get("filter") or repair_enabled(job))


def score_deferred(output: JobOutput) -> None:
    """Score the images a run left unscored (the storage stage, before the upload)."""
    if output.deferred_scorer is not None:
        _score(output.images, output.deferred_scorer, output)
        output.deferred_scorer = None


def score_characters(job, output: JobOutput) -> None:
    """Score every image against each further character the job names (``score_characters``;
    the storage stage, after ``score_deferred``) and record all of them with the image:
    ``manifest["character_scores"] = {character id: score or null}``, the job's own
    character's being its ``consistency_score``."""
    extra = job.params.get("score_characters") or []
    if not extra:
        return
    started = time.perf_counter()
    scorers = extra_character_scorers(job)
    kept = job.params.get("character")
    for image in output.images:
        scores = {kept: image.consistency_score} if kept else {}
        for character_id in extra:
            scorer = scorers.get(character_id)
            scores[character_id] = scorer.score(image._pil) if scorer else None
        image.manifest = {**image.manifest, "character_scores": scores}
    output.add_time("scoring_ms", int((time.perf_counter() - started) * 1000))


def _score(images, scorer: IdentityScorer, output: JobOutput) -> None:
    started = time.perf_counter()
    for image in images:
        score = scorer.score(image._pil)
        image.consistency_score = score
        image.accepted = score is not None and score >= scorer.threshold
        image.manifest = {**image.manifest, "identity": scorer.manifest(score)}
    output.add_time("scoring_ms", int((time.perf_counter() - started) * 1000))


def ms(delta) -> int:
    return int(delta.total_seconds() * 1000)


def engine_ms_shares(total_ms: int, images: list[int]) -> list[int]:
    """A pass's engine time split among its members by their image counts, in whole
    milliseconds that add up to ``total_ms`` exactly (largest remainders get the spare ones)."""
    count = sum(images)
    if count == 0:
        return [0] * len(images)
    exact = [total_ms * n / count for n in images]
    shares = [int(value) for value in exact]
    spare = total_ms - sum(shares)
    by_remainder = sorted(range(len(images)), key=lambda i: exact[i] - shares[i], reverse=True)
    for index in by_remainder[:spare]:
        shares[index] += 1
    return shares
