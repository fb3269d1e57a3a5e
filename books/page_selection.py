"""Choosing a page's image when its job ends (``generation.signals.job_finished``; no
polling). Every candidate is scored for the page's characters; the best one passing every
character's threshold is selected. With none passing, the page takes a follow-up job within
ILLU_BOOK_PAGE_RETRY_BUDGET: a face repair of the best candidate when it shows a face, else a
re-roll. Once the budget is spent the best candidate is selected anyway and the page is flagged
``needs_attention``. A page without characters takes its first candidate.

Runs in the process that ended the job (a worker), after that job's commit."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from characters.models import Character
from core.errors import DomainError
from generation.models import GeneratedImage, GenerationJob, JobKind
from work.models import ACTIVE_STATUSES, WorkStatus

from .generation_runs import page_characters, page_image_set, page_job_params, page_job_start
from .models import BookPage, PageJob, PageJobPurpose
from .selectors import page_round_links

logger = logging.getLogger(__name__)
Scores = dict[str, float | None]  # character id -> identity score (None: no face found)


def page_job_finished(sender, *, job_id: str, status: str, **kwargs) -> None:
    """The signal's receiver: a book's failure here must never fail the worker's job."""
    try:
        page_job_settle(job_id=job_id)
    except Exception:
        logger.exception("book page of job %s: choosing its image failed", job_id)


def page_job_settle(*, job_id: str) -> BookPage | None:
    """Record the job's scores on its page and, when the page's round has no job left under
    way, select an image or start a follow-up. Nothing for a job of no page, or twice."""
    page_id = PageJob.objects.filter(job_id=job_id).values_list("page_id", flat=True).first()
    if page_id is None:
        return None
    with transaction.atomic():
        # The page's lock orders the ends of its jobs: one settles the round at a time.
        page = BookPage.objects.select_for_update().select_related("book").get(pk=page_id)
        link = PageJob.objects.select_related("job").get(job_id=job_id)
        if link.handled:
            return page
        characters = page_characters(page)
        link.identity_scores = _job_scores(link.job, characters)
        link.handled = True
        link.save(update_fields=["identity_scores", "handled"])
        links = list(page_round_links(page))
        if link.pk not in {item.pk for item in links}:
            return page  # a job of an earlier round: scored, nothing to choose
        if any(item.job.status in ACTIVE_STATUSES for item in links):
            return page
        _settle_round(page, links, characters, cancelled=link.job.status == WorkStatus.CANCELLED)
    return page


def _job_scores(job: GenerationJob, characters: list[Character]) -> dict[str, Scores]:
    """The worker scored each image against the job's character (``consistency_score``) and
    the further characters it named (``manifest["character_scores"]``); a character it did
    not score (none of its faces on file) is null."""
    scores = {}
    for image in job.images.all():
        found = {**(image.manifest or {}).get("character_scores", {})}
        if _job_character(job):
            found[_job_character(job)] = image.consistency_score
        scores[str(image.pk)] = {str(c.pk): found.get(str(c.pk)) for c in characters}
    return scores


def _job_character(job: GenerationJob) -> str | None:
    return str(job.character_id) if job.character_id else job.params.get("character")


def passes(scores: Scores, characters: list[Character]) -> bool:
    return all(
        scores.get(str(c.pk)) is not None and scores[str(c.pk)] >= c.consistency_threshold
        for c in characters
    )


def _rank(scores: Scores, characters: list[Character]) -> float:
    # A candidate is as good as its worst-kept character; no face ranks below any score.
    values = [scores.get(str(c.pk)) for c in characters]
    return min((-1.0 if value is None else value) for value in values) if values else 0.0


def _settle_round(
    page: BookPage, links: list[PageJob], characters: list[Character], *, cancelled: bool
) -> None:
    images = list(
        GeneratedImage.objects.filter(job__in=[item.job_id for item in links]).order_by(
            "job__created_at", "index"
        )
    )
    scores: dict[str, Scores] = {}
    for item in links:
        scores.update(item.identity_scores or {})
    if images and not characters:
        page_image_set(page=page, image=images[0], needs_attention=False)
        return
    passing = [image for image in images if passes(scores.get(str(image.pk), {}), characters)]
    ranked = passing or images
    best = (
        max(ranked, key=lambda image: _rank(scores.get(str(image.pk), {}), characters))
        if ranked
        else None
    )
    if passing:
        page_image_set(page=page, image=best, needs_attention=False)
        return
    budget_left = page.retries_used < settings.ILLU_BOOK_PAGE_RETRY_BUDGET
    if budget_left and not cancelled and _follow_up(page, links[0].job, best, characters, scores):
        return
    if best is not None:
        page_image_set(page=page, image=best, needs_attention=True)
    else:
        page.needs_attention = True
        page.save(update_fields=["needs_attention", "updated_at"])


def _follow_up(
    page: BookPage,
    first_job: GenerationJob,
    best: GeneratedImage | None,
    characters: list[Character],
    scores: dict[str, Scores],
) -> bool:
    """Start a face repair of ``best`` when it shows the first character's face (scored),
    else a re-roll of the round's request; False when the job service refuses (quota)."""
    primary = characters[0] if characters else None
    face_seen = best is not None and primary is not None
    face_seen = face_seen and scores.get(str(best.pk), {}).get(str(primary.pk)) is not None
    if face_seen:
        purpose, kind = PageJobPurpose.REPAIR, JobKind.FACE_REPAIR
        params = {"source_image": str(best.pk), "character": str(primary.pk)}
        if characters[1:]:
            params["score_characters"] = [str(c.pk) for c in characters[1:]]
    else:
        purpose = PageJobPurpose.REROLL
        kind, params = page_job_params(page)
        params["prompt"] = first_job.params.get("prompt", params["prompt"])
    try:
        with transaction.atomic():
            page_job_start(page=page, purpose=purpose, kind=kind, params=params)
    except DomainError as exc:
        logger.warning("book page %s: follow-up job refused: %s", page.pk, exc)
        return False
    page.retries_used += 1
    page.save(update_fields=["retries_used", "updated_at"])
    return True
