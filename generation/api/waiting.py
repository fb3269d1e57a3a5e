"""`Prefer: wait=N` on the routes that create jobs: the answer waits (``work.waiting``: no
thread, no database connection while waiting) until the job ends or N seconds pass."""

from __future__ import annotations

from core.acting import in_acting_scope
from work.waiting import is_final
from work.waiting import prefer_wait as prefer_wait_for_row

from ..models import GenerationJob
from ..work_kind import JOBS


def _rerender(request, response, job_id: str):
    from .views import render_job

    job = GenerationJob.objects.get(pk=job_id)
    fresh = render_job(job, request, response.status_code)
    fresh.accepted_renderer = response.accepted_renderer
    fresh.accepted_media_type = response.accepted_media_type
    fresh.renderer_context = response.renderer_context
    if is_final(job.status):
        fresh["Preference-Applied"] = "wait"
    return fresh


def prefer_wait(view):
    """Wrap a sync DRF view that creates a job: creation runs in core.acting's scope (as the
    middleware runs sync API views), the wait as ``work.waiting.prefer_wait`` holds it."""
    return prefer_wait_for_row(in_acting_scope(view), kind=JOBS, rerender=_rerender)
