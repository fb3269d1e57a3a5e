"""The worker's batch pass in-process: a claimed job whose inputs changed since it was
queued no longer fits the pass and runs alone after it, instead of failing the pass."""

import pytest

from characters.services import character_create, reference_add, reference_remove
from generation.services import job_create
from gpu_worker import tasks
from tests import photos

pytestmark = pytest.mark.django_db(transaction=True)


def character_with_two_references(owner, name: str):
    character = character_create(owner=owner, name=name)
    for photo in (photos.astronaut(), photos.other_person()):
        reference_add(character=character, upload=photos.upload_of(photo))
    return character


def test_a_job_whose_references_changed_after_queueing_runs_alone_after_the_pass(
    make_user, empty_queues
):
    owner = make_user()
    kept, trimmed = (character_with_two_references(owner, name) for name in ("Ada", "Bo"))
    params = {"prompt": "on a boat", "width": 256, "height": 256, "steps": 2, "seed": 3}
    jobs = [
        job_create(owner=owner, kind="character", params={**params, "character": str(c.id)})[0]
        for c in (kept, trimmed)
    ]
    # Queued with two references each (one pass); one is deleted before the worker runs.
    reference_remove(reference=trimmed.references.first())
    outcome = tasks.run_generation_job(str(jobs[0].id))

    assert outcome["batch"] == [str(job.id) for job in jobs]
    for job in jobs:
        job.refresh_from_db()
        assert job.status == "succeeded" and job.timings["batch_size"] == 1
    references = [
        job.images.get().manifest["ip_adapter"]["reference_images_sha256"] for job in jobs
    ]
    assert [len(shas) for shas in references] == [2, 1]
