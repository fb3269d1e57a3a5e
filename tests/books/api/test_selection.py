"""A page's image is chosen when its job ends (the job_finished signal, no polling): the best
candidate passing every character's threshold; else a follow-up job within the budget; else
the best one, flagged. Jobs end through the real lifecycle (work_claim, work_succeed)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from books.models import Book, BookPage, BookStatus, PageJob, PageJobPurpose
from characters.services import character_create
from generation.models import GeneratedImage
from generation.work_kind import JOBS
from tests.fixtures.api import image_bytes
from work.lifecycle import work_claim, work_succeed

pytestmark = pytest.mark.django_db


def finish_with(job, scores, capture, others=None):
    """The page's job runs and succeeds with one image per score (what a worker stores);
    ``others``: per image, the further characters' scores the worker recorded."""
    work_claim(JOBS, row_id=str(job.pk), worker_name="test")
    for index, score in enumerate(scores):
        manifest = {"character_scores": others[index]} if others else {}
        image = GeneratedImage(job=job, index=index, width=128, height=128, seed=index,
                               consistency_score=score, manifest=manifest)  # fmt: skip
        image.file.save("image.png", ContentFile(image_bytes(size=(128, 128))), save=False)
        image.save()
    with capture(execute=True):
        work_succeed(JOBS, row_id=str(job.pk))


def latest_job(page_id):
    return PageJob.objects.filter(page_id=page_id).latest("created_at")


def test_the_best_passing_candidate_is_selected_and_the_book_goes_to_review(
    api, book, empty_queues, django_capture_on_commit_callbacks
):
    api.post(f"/api/v1/books/{book['id']}/generate/", {}, format="json")
    for page, scores in zip(book["pages"], [[0.4, 0.8], [None, None], [0.9, 0.6]], strict=True):
        finish_with(latest_job(page["id"]).job, scores, django_capture_on_commit_callbacks)
    body = api.get(f"/api/v1/books/{book['id']}/").json()
    chosen = [page["selected_image"] for page in body["pages"]]
    assert [image["index"] for image in chosen] == [1, 0, 0]  # no characters: the first
    assert [page["needs_attention"] for page in body["pages"]] == [False] * 3
    hero = body["pages"][0]["characters"][0]
    assert chosen[0]["identity_scores"] == {hero: 0.8}
    assert body["status"] == "review" and body["progress"] == {"pages_done": 3, "pages_total": 3}


def test_no_passing_candidate_repairs_or_rerolls_then_flags_the_best(
    api, book, empty_queues, settings, django_capture_on_commit_callbacks
):
    settings.ILLU_BOOK_PAGE_RETRY_BUDGET = 2
    page_id = book["pages"][0]["id"]
    api.post(f"/api/v1/books/{book['id']}/generate/", {"pages": [page_id]}, format="json")
    finish_with(latest_job(page_id).job, [None, None], django_capture_on_commit_callbacks)
    reroll = latest_job(page_id)
    assert reroll.purpose == PageJobPurpose.REROLL  # no face seen: nothing to repair
    finish_with(reroll.job, [0.3, 0.2], django_capture_on_commit_callbacks)
    repair = latest_job(page_id)
    assert repair.purpose == PageJobPurpose.REPAIR  # a face below the threshold: repair it
    assert repair.job.params["source_image"] == str(reroll.job.images.get(index=0).pk)
    finish_with(repair.job, [0.35], django_capture_on_commit_callbacks)
    page = BookPage.objects.get(pk=page_id)
    assert page.retries_used == 2 and page.needs_attention is True
    assert page.selected_image == repair.job.images.get()  # the best: 0.35
    assert PageJob.objects.filter(page_id=page_id).count() == 3  # the budget holds


def test_a_repair_that_passes_ends_the_page_without_attention(
    api, book, empty_queues, django_capture_on_commit_callbacks
):
    page_id = book["pages"][2]["id"]
    api.post(f"/api/v1/books/{book['id']}/generate/", {"pages": [page_id]}, format="json")
    finish_with(latest_job(page_id).job, [0.2, 0.1], django_capture_on_commit_callbacks)
    repair = latest_job(page_id)
    finish_with(repair.job, [0.7], django_capture_on_commit_callbacks)
    page = BookPage.objects.get(pk=page_id)
    assert page.selected_image == repair.job.images.get() and page.needs_attention is False
    assert Book.objects.get(pk=book["id"]).status == BookStatus.GENERATING  # 2 pages left


def test_every_character_of_a_page_must_pass_for_a_candidate_to_be_selected(
    api, user, book, hero, empty_queues, django_capture_on_commit_callbacks
):
    mate = character_create(owner=user, name="Quill", consistency_threshold=0.5)
    api.patch(f"/api/v1/books/{book['id']}/", {"characters": [str(hero.id), str(mate.id)]},
              format="json")  # fmt: skip
    page_id = book["pages"][0]["id"]
    api.patch(f"/api/v1/books/{book['id']}/pages/{page_id}/",
              {"characters": [str(hero.id), str(mate.id)]}, format="json")  # fmt: skip
    api.post(f"/api/v1/books/{book['id']}/generate/", {"pages": [page_id]}, format="json")
    job = latest_job(page_id).job
    # The job keeps the first character by name (Pip) and has the worker score Quill too.
    assert job.params["character"] == str(hero.id)
    assert job.params["score_characters"] == [str(mate.id)]
    # Pip's best candidate fails Quill; the other passes both.
    others = [{str(mate.id): 0.2}, {str(mate.id): 0.7}]
    finish_with(job, [0.9, 0.6], django_capture_on_commit_callbacks, others)
    page = api.get(f"/api/v1/books/{book['id']}/").json()["pages"][0]
    assert page["selected_image"]["index"] == 1 and page["needs_attention"] is False
    assert page["selected_image"]["identity_scores"] == {str(hero.id): 0.6, str(mate.id): 0.7}
    assert [c["identity_scores"] for c in page["candidates"]][0] == {
        str(hero.id): 0.9, str(mate.id): 0.2,
    }  # fmt: skip
