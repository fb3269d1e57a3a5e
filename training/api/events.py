"""`GET /api/v1/trainings/{id}/events/`: the run's Server-Sent Events (``work.event_stream``): the
current status and progress first (a run paused for image jobs: its checkpoint's step with
`paused: true`), then `status` (a pause: `paused`, `step`), `progress` (step, loss, ETA) and
`sample` events, and a final `completed` event with the training resource."""

from __future__ import annotations

from work.event_stream import EventStream
from work.progress import work_progress

from ..models import TrainingRun
from ..selectors import trainings_visible_to
from ..work_kind import TRAININGS, training_paused


class TrainingEventStream(EventStream):
    kind = TRAININGS
    url_kwarg = "training_id"
    forwarded = ("progress", "status", "sample")

    def visible(self, user):
        return trainings_visible_to(user)

    def opening_events(self, row: TrainingRun):
        # A paused run reports no live progress; its own account says where it waits.
        if training_paused(row):
            return [("progress", work_progress(TRAININGS, row))]
        return ()

    def closing_events(self, row: TrainingRun, request):
        from .serializers import TrainingSerializer

        return [("completed", TrainingSerializer(row, context={"request": request}).data)]


training_events = TrainingEventStream().view
