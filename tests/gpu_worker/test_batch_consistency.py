"""Batch consistency: keep generating with new seeds until enough images pass the identity
threshold or the attempt budget is spent; and every image of an identity job is scored, on the
solo path and in a batch pass alike. The tiny model draws noise, so the scorer here is a double
that passes images by a rule the test controls, put where every path takes its scorer (the
worker's services); everything else is real."""

from __future__ import annotations

import threading

import pytest

from accounts.services import avatar_create
from generation.models import GenerationJob
from generation.services import job_create
from generation.work_kind import JOBS
from gpu_worker import tasks
from gpu_worker.runtime import worker_services
from gpu_worker.serving.batch_pass import run_jobs
from gpu_worker.serving.storage_stage import StorageStage
from tests import photos
from work.lifecycle import work_claim_many

pytestmark = pytest.mark.django_db(transaction=True)


class ScorerDouble:
    """Passes every other image it is shown, starting with the second."""

    threshold = 0.5

    def __init__(self):
        self.calls = 0

    def score(self, image) -> float:
        self.calls += 1
        return 0.9 if self.calls % 2 == 0 else 0.1

    def manifest(self, score):
        return {"backend": "double", "score": score, "threshold": self.threshold}


@pytest.fixture
def scorer(monkeypatch):
    double = ScorerDouble()
    monkeypatch.setattr(worker_services(), "scorer_for_job", lambda job: double)
    return double


def memory_job(user, **consistency):
    if not user.avatars.exists():  # 256 px: the face is found, at a quarter of the cost
        avatar_create(owner=user, upload=photos.upload_of(photos.astronaut().resize((256, 256))))
    # The tiny model at 64 px, as the engine tests run it: what is scored is the point here.
    params = {"prompt": "a day at the beach", "width": 64, "height": 64, "steps": 2}
    if consistency:
        params.update(num_images=2, consistency=consistency)
    job, _ = job_create(owner=user, kind="memory", params=params)
    return job


def test_regenerates_until_enough_images_pass(user, scorer, empty_queues):
    job = memory_job(user, threshold=0.5, min_accepted=2, max_attempts=6)
    tasks.run_generation_job(str(job.id))
    job.refresh_from_db()
    assert job.status == "succeeded"
    assert job.accepted_count == 2 and job.generated_count == 4
    images = list(job.images.order_by("index"))
    assert [image.accepted for image in images] == [False, True, False, True]
    assert len({image.seed for image in images}) == 4  # new seeds each round
    assert images[0].seed == job.params["seeds"][0]
    assert images[1].consistency_score == 0.9 and images[0].consistency_score == 0.1


def test_stops_at_the_attempt_budget(user, scorer, empty_queues, monkeypatch):
    monkeypatch.setattr(ScorerDouble, "score", lambda self, image: 0.1)
    job = memory_job(user, min_accepted=2, max_attempts=3)
    tasks.run_generation_job(str(job.id))
    job.refresh_from_db()
    assert job.status == "succeeded" and job.generated_count == 3 and job.accepted_count == 0


def test_rejected_images_can_be_dropped_by_setting(user, scorer, empty_queues, settings):
    settings.ILLU_KEEP_REJECTED_IMAGES = False
    job = memory_job(user, min_accepted=1, max_attempts=4)
    tasks.run_generation_job(str(job.id))
    job.refresh_from_db()
    images = list(job.images.all())
    assert len(images) == 1 and images[0].accepted
    assert job.generated_count == 2 and job.accepted_count == 1


def test_images_of_a_batch_pass_are_scored_like_a_solo_jobs(user, scorer, empty_queues):
    # Memory jobs without a consistency filter share one pass; each image is still scored.
    jobs = [memory_job(user) for _ in range(2)]
    outcome = tasks.run_generation_job(str(jobs[0].id))
    assert outcome["batch"] == [str(job.id) for job in jobs]
    scores = []
    for job in jobs:
        job.refresh_from_db()
        assert job.status == "succeeded" and job.timings["batch_jobs"] == 2
        [image] = job.images.all()
        assert image.manifest["identity"]["backend"] == "double"
        scores.append(image.consistency_score)
    assert sorted(scores) == [0.1, 0.9] and scorer.calls == 2


def test_scores_the_run_does_not_decide_on_are_taken_by_the_storage_stage(
    user, scorer, empty_queues, monkeypatch
):
    """The denoising thread scores only what it decides on (the consistency filter); the
    other identity jobs are scored by the storage stage while the next pass denoises."""
    scored_on = []
    real_score = ScorerDouble.score

    def score(double, image):
        scored_on.append(threading.current_thread().name)
        return real_score(double, image)

    monkeypatch.setattr(ScorerDouble, "score", score)
    stage = StorageStage(capacity=2)
    threads = {}
    try:
        for name, job in (
            ("reported", memory_job(user)),
            ("filtered", memory_job(user, min_accepted=1, max_attempts=2)),
        ):
            assert work_claim_many(JOBS, row_ids=[str(job.id)], worker_name="scoring-test")
            run_jobs([GenerationJob.objects.get(pk=job.pk)], stage.submit)
            assert stage.drain(timeout=120)
            threads[name] = set(scored_on)
            scored_on.clear()
            job.refresh_from_db()
            assert job.status == "succeeded"
            assert all(image.consistency_score is not None for image in job.images.all())
    finally:
        stage.close()
    assert threads == {"reported": {"illu-store_0"}, "filtered": {threading.main_thread().name}}
