"""The identity loop of character and memory jobs with ``consistency.repair``: a rejected
image's faces are repaired (up to ILLU_FACE_REPAIR_MAX_PASSES passes) before the job re-rolls
with new seeds; the image's manifest records every pass, its score and whether it passed."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from django.conf import settings

from .engine.face_loop import repair_until_accepted
from .engine.spec import GenerationSpec
from .runtime import worker_services

logger = logging.getLogger(__name__)


def repair_enabled(job) -> bool:
    return bool((job.params.get("consistency") or {}).get("repair"))


def repair_rejected(job, spec: GenerationSpec, image, scorer, reporter) -> int:
    """Repair ``image`` (an unsaved GeneratedImage holding ``_pil``) in place when a pass is
    accepted; record the passes either way. Returns the milliseconds the repair held the
    engine (its passes with their face detection and scoring: the job's cost)."""
    started = time.perf_counter()
    repaired, score, passes = repair_until_accepted(
        worker_services().engine,
        replace(spec, repair_size=settings.ILLU_FACE_REPAIR_SIZE),
        image._pil,
        image.seed,
        embedder=scorer.embedder,
        score=scorer.score,
        threshold=scorer.threshold,
        max_passes=settings.ILLU_FACE_REPAIR_MAX_PASSES,
        on_step=reporter,
    )
    identity = {**image.manifest.get("identity", {}), "repair": passes}
    if passes and passes[-1]["accepted"]:
        image._pil = repaired
        image.consistency_score = score
        image.accepted = True
        identity["score"] = score
    image.manifest = {**image.manifest, "identity": identity}
    logger.info(
        "job %s image %s: %d face repair pass(es), accepted=%s",
        job.id,
        image.index,
        len(passes),
        image.accepted,
    )
    return int((time.perf_counter() - started) * 1000)
