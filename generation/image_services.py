"""Writes on single generated images, for the gallery pages: delete one, draw one again."""

from __future__ import annotations

import copy

from django.db import transaction

from . import image_review
from .models import GeneratedImage, GenerationJob
from .services import job_rerun


@transaction.atomic
def image_delete(*, image: GeneratedImage) -> None:
    """Delete one image: its row, then its PNG and thumbnail once that commits."""
    image_review.image_delete(images=[image])


def image_generate_again(*, image: GeneratedImage, same_seed: bool) -> GenerationJob:
    """A new job with the image's parameters: with ``same_seed`` exactly this image again
    (its seed fixed, one image), otherwise the whole job again with new seeds (unless the
    job's seed was fixed, as job_rerun does)."""
    job = image.job
    if not same_seed:
        return job_rerun(job=job)
    # job_rerun rebuilds the request from a job's resolved params and keeps a fixed seed:
    # hand it an unsaved copy whose request asks for this one image with this seed.
    template = copy.copy(job)
    params = {**job.params, "seed": image.seed, "num_images": 1}
    if isinstance(params.get("consistency"), dict):
        params["consistency"] = {**params["consistency"], "min_accepted": 1}
    template.params = params
    return job_rerun(job=template)
