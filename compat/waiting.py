"""Compatibility routes answer when their jobs end, as their clients expect. A view creates the
jobs (a sync DRF view, in a short database unit) and returns ``JobsPending``; the wrapper then
waits through ``work.waiting.wait_for_row_end`` (the wait behind ``Prefer: wait``: no thread
and no database connection held while waiting), and builds the answer once the jobs ended or
ILLU_COMPAT_WAIT_SECONDS passed. Each wait counts against the caller's and the process's
long-wait caps (``ILLU_MAX_WAITS_PER_USER``, ``ILLU_MAX_STREAMS_PER_PROCESS``). A client that
goes away cancels only the wait, never a job."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpResponse
from rest_framework.response import Response

from core.db_units import short_db_unit
from core.errors import DomainError
from core.long_waits import long_wait

from .platform import JOBS, WAIT, admit_long_wait, refusal, wait_for_row_end


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
        await wait_for_row_end(JOBS, job_id, seconds=remaining)


def answers_when_jobs_end(view, *, refused: Callable[[DomainError], HttpResponse] = refusal):
    """Wrap a DRF view (``SomeView.as_view()``) whose POST returns JobsPending. A wait the
    caps refuse (or a database outage at sign-in) is answered by ``refused`` before anything
    is created."""
    authenticators = getattr(view.cls, "authentication_classes", None)

    async def wrapped(request, *args, **kwargs):
        try:
            _, lease = await admit_long_wait(request, what=WAIT, authenticators=authenticators)
        except DomainError as exc:
            return refused(exc)
        try:
            response = await short_db_unit(view, request, *args, **kwargs)
            deadline = time.monotonic() + settings.ILLU_COMPAT_WAIT_SECONDS
            while isinstance(response, JobsPending):
                await wait_for_jobs(response.job_ids, deadline - time.monotonic())
                pending = response
                response = await short_db_unit(pending.then)
                # Rendered like the view's own answer (same renderer, negotiated media type).
                response.accepted_renderer = pending.accepted_renderer
                response.accepted_media_type = pending.accepted_media_type
                response.renderer_context = pending.renderer_context
            return response
        finally:
            if lease is not None:
                await lease.aclose()

    wrapped.csrf_exempt = True
    # The schema generator and URL enumerators find DRF views by these attributes.
    wrapped.cls = view.cls
    wrapped.initkwargs = view.initkwargs
    return long_wait(wrapped)
