"""consistency.repair: a rejected image's faces are repaired (real face_repair runs on the
demo model) and scored again before the job re-rolls. The tiny model draws noise, so the face
detector and the scorer are doubles the test controls, put where every path takes its scorer
(the worker's services); the engine, the job and storage are real."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from accounts.services import avatar_create
from generation.services import job_create
from gpu_worker import tasks
from gpu_worker.engine.identity import DetectedFace
from gpu_worker.runtime import worker_services
from tests import photos

pytestmark = pytest.mark.django_db(transaction=True)


class DetectorDouble:
    """Finds one 'face' in the middle of whatever it is shown."""

    name = "double"

    def detect(self, image):
        w, h = image.size
        box = (w * 0.3, h * 0.3, w * 0.7, h * 0.7)
        return [DetectedFace(bbox=box, det_score=0.99, embedding=np.ones(4, dtype=np.float32))]


class ScorerDouble:
    threshold = 0.5
    embedder = DetectorDouble()

    def __init__(self, scores):
        self.scores = iter(scores)
        self.shown = []

    def score(self, image) -> float:
        self.shown.append(np.asarray(image).copy())
        return next(self.scores)

    def manifest(self, score):
        return {"backend": "double", "score": score, "threshold": self.threshold}


def memory_job(user, consistency):
    avatar_create(owner=user, upload=photos.upload_of(photos.astronaut()))
    job, _ = job_create(
        owner=user,
        kind="memory",
        params={"prompt": "at the beach", "width": 256, "height": 256, "steps": 2,
                "consistency": consistency},
    )  # fmt: skip
    return job


def stored(image_row) -> np.ndarray:
    with image_row.file.open("rb") as handle:
        return np.asarray(Image.open(io.BytesIO(handle.read())).convert("RGB"))


def test_a_repaired_face_that_passes_keeps_the_image(user, monkeypatch, settings, empty_queues):
    settings.ILLU_FACE_REPAIR_SIZE = 128
    settings.ILLU_FACE_REPAIR_MAX_PASSES = 3
    scorer = ScorerDouble([0.1, 0.2, 0.9])  # generated, repair pass 1, repair pass 2
    monkeypatch.setattr(worker_services(), "scorer_for_job", lambda job: scorer)
    job = memory_job(user, {"repair": True, "min_accepted": 1, "max_attempts": 3})
    tasks.run_generation_job(str(job.id))
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert job.generated_count == 1 and job.accepted_count == 1  # repaired, not re-rolled
    [image] = job.images.all()
    assert image.accepted and image.consistency_score == 0.9
    assert image.manifest["identity"]["repair"] == [
        {"pass": 1, "faces": 1, "score": 0.2, "accepted": False},
        {"pass": 2, "faces": 1, "score": 0.9, "accepted": True},
    ]
    # The stored PNG is the accepted repair, and only its face region changed.
    original, repaired = scorer.shown[0], stored(image)
    assert np.array_equal(repaired, scorer.shown[2])
    assert not np.array_equal(repaired, original)
    assert np.array_equal(repaired[:20], original[:20])  # far from the face: untouched


def test_without_repair_a_rejected_image_is_re_rolled(user, monkeypatch, empty_queues):
    scorer = ScorerDouble([0.1, 0.9])
    monkeypatch.setattr(worker_services(), "scorer_for_job", lambda job: scorer)
    job = memory_job(user, {"min_accepted": 1, "max_attempts": 3})
    tasks.run_generation_job(str(job.id))
    job.refresh_from_db()
    assert job.generated_count == 2 and job.accepted_count == 1
    assert all("repair" not in image.manifest["identity"] for image in job.images.all())
