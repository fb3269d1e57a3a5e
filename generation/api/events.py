"""`GET /api/v1/jobs/{id}/events/`: the job's Server-Sent Events (``work.event_stream``): the
current status, the queue position while queued (again at each keep-alive), progress and a
preview while running, ``image`` events for the stored images, then ``completed`` with the
job resource."""

from __future__ import annotations

from work.event_stream import EventStream

from ..models import GenerationJob
from ..selectors import jobs_visible_to
from ..work_kind import JOBS


class JobEventStream(EventStream):
    kind = JOBS
    url_kwarg = "job_id"
    forwarded = ("progress", "status", "preview")

    def visible(self, user):
        return jobs_visible_to(user=user)

    def opening_events(self, row: GenerationJob):
        return self.quiet_events(row)

    def progress_events(self, progress: dict):
        preview = {key: progress.pop(key) for key in ("preview", "preview_step") if key in progress}
        events = [("progress", progress)]
        if preview.get("preview"):
            step, total = preview.get("preview_step"), progress.get("total")
            events.append(("preview", {"step": step, "total": total, "image": preview["preview"]}))
        return events

    def quiet_events(self, row: GenerationJob):
        from ..queue.position import queue_state

        state = queue_state(row)
        if state is None:
            return []
        return [("queue", {**state, "estimated_start": state["estimated_start"].isoformat()})]

    def closing_events(self, row: GenerationJob, request):
        from .serializers import GeneratedImageSerializer, JobSerializer

        context = {"request": request}
        images = [
            ("image", GeneratedImageSerializer(i, context=context).data) for i in row.images.all()
        ]
        return [*images, ("completed", JobSerializer(row, context=context).data)]


job_events = JobEventStream().view
