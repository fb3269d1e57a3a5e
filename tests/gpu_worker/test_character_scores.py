"""A job that names further characters (``score_characters``, a book page with several) has
each image scored against every one of them by the storage stage, with the real face
embedder: the scores are recorded with the image (``manifest["character_scores"]``)."""

from __future__ import annotations

import pytest

from characters.services import character_create, reference_add
from generation.models import GeneratedImage, GenerationJob
from gpu_worker.serving.output import JobOutput, score_characters
from tests import photos

pytestmark = pytest.mark.django_db


def candidate(job, picture) -> GeneratedImage:
    image = GeneratedImage(job=job, index=0, width=picture.width, height=picture.height, seed=1,
                           consistency_score=0.9, manifest={"seed": 1})  # fmt: skip
    image._pil = picture
    return image


def test_each_image_gets_a_score_for_every_character_the_job_names(user):
    astro = character_create(owner=user, name="Astro")
    reference_add(character=astro, upload=photos.upload_of(photos.astronaut()))
    other = character_create(owner=user, name="Other", consistency_threshold=0.5)
    reference_add(character=other, upload=photos.upload_of(photos.other_person()))
    faceless = character_create(owner=user, name="Faceless")  # no reference on file
    job = GenerationJob.objects.create(owner=user, kind="character", params={
        "character": str(astro.pk), "score_characters": [str(other.pk), str(faceless.pk)],
    })  # fmt: skip
    output = JobOutput(
        images=[candidate(job, photos.astronaut()), candidate(job, photos.no_face())]
    )

    score_characters(job, output)

    with_face, without = (image.manifest["character_scores"] for image in output.images)
    assert set(with_face) == {str(astro.pk), str(other.pk), str(faceless.pk)}
    assert with_face[str(astro.pk)] == 0.9  # the job's own character: its consistency score
    assert 0.0 <= with_face[str(other.pk)] < 0.5  # someone else's face: scored, and low
    assert with_face[str(faceless.pk)] is None
    assert without[str(other.pk)] is None  # no face in the image
    assert output.timings["scoring_ms"] >= 0


def test_a_job_naming_no_further_characters_is_left_as_it_was(user):
    job = GenerationJob.objects.create(owner=user, kind="text", params={})
    output = JobOutput(images=[candidate(job, photos.astronaut())])
    score_characters(job, output)
    assert output.images[0].manifest == {"seed": 1}
