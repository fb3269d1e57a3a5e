"""Compatibility routes answer when their jobs end, as their clients expect. A view creates the
jobs (a sync DRF view, in a thread) and returns ``JobsPending``; the wrapper then waits on the
event loop, through generation's ``wait_for_end`` (the wait behind ``Prefer: wait``), so no
thread is held per waiting client, and builds the answer once the jobs ended or
ILLU_COMPAT_WAIT_SECONDS passed. A client that goes away cancels only the wait, never a job."""

from __future__ import annotations

import time
from collections.abc import Callable

from asgiref.sync import sync_to_async
from django.conf import settings
from rest_framework.response import Response

from .platform import wait_for_end


class JobsPending(Response):
    """What a compatibility view returns once its jobs exist: their ids, and ``then``, the
    answer to give when they have ended or the wait ran out (a Response, or another
    JobsPending for a second stage such as enable_hr's upscale)."""

    def __init__(self, job_ids: list[str], then: Callable[[], Response]):
        super().__init__(status=202)
        self.job_ids = [str(job_id) for job_id in job_ids]
        self.then = then


async def wait_for_jobs(job_ids: list[str], seconds: float) -> None:
    """Return when every job ended or ``seconds`` passed (one subscription at a time)."""
    deadline = time.monotonic() + seconds
    for job_id in job_ids:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        await wait_for_end(job_id, remaining)


def answers_when_jobs_end(view):
    """Wrap a DRF view (``SomeView.as_view()``) whose POST returns JobsPending."""

    async def wrapped(request, *args, **kwargs):
        response = await sync_to_async(view)(request, *args, **kwargs)
        deadline = time.monotonic() + settings.ILLU_COMPAT_WAIT_SECONDS
        while isinstance(response, JobsPending):
            await wait_for_jobs(response.job_ids, deadline - time.monotonic())
            pending = response
            response = await sync_to_async(pending.then)()
            # Rendered like the view's own answer (same renderer, negotiated media type).
            response.accepted_renderer = pending.accepted_renderer
            response.accepted_media_type = pending.accepted_media_type
            response.renderer_context = pending.renderer_context
        return response

    wrapped.csrf_exempt = True
    # The schema generator and URL enumerators find DRF views by these attributes.
    wrapped.cls = view.cls
    wrapped.initkwargs = view.initkwargs
    return wrapped
