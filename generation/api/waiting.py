"""`Prefer: wait=N`: hold a create response until the job ends or N seconds pass."""

from __future__ import annotations

import asyncio
import re
import time

from asgiref.sync import sync_to_async
from django.conf import settings

from core.acting import in_acting_scope
from work.subscription import WorkSubscription, is_final, row_status

from ..models import GenerationJob
from ..work_kind import JOBS

_PREFER_WAIT = re.compile(r"(?:^|[;,\s])wait\s*=\s*(\d+)", re.IGNORECASE)


def requested_wait(request) -> int:
    match = _PREFER_WAIT.search(request.headers.get("Prefer", ""))
    if not match:
        return 0
    return min(int(match.group(1)), settings.ILLU_MAX_WAIT_SECONDS)


async def wait_for_end(job_id: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    async with WorkSubscription(job_id) as subscription:
        while not is_final(await row_status(JOBS, job_id)) and time.monotonic() < deadline:
            message = await subscription.next(timeout=min(1.0, deadline - time.monotonic()))
            if message and is_final(message["data"].get("status")):
                return


def _rerender(request, response, job_id):
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
    """Wrap a sync DRF view: creation runs as usual (in core.acting's scope, as the middleware
    runs sync API views), the wait happens on the event loop."""
    create = in_acting_scope(view)

    async def wrapped(request, *args, **kwargs):
        response = await sync_to_async(create)(request, *args, **kwargs)
        seconds = requested_wait(request) if request.method == "POST" else 0
        job_id = getattr(response, "data", None) and response.data.get("id")
        if not seconds or response.status_code not in (200, 201) or not job_id:
            return response
        await asyncio.wait_for(wait_for_end(str(job_id), seconds), timeout=seconds + 1)
        return await sync_to_async(_rerender)(request, response, job_id)

    wrapped.csrf_exempt = True
    # The schema generator finds DRF views by these attributes of the URL callback.
    wrapped.cls = view.cls
    wrapped.initkwargs = view.initkwargs
    return wrapped
