"""`GET /api/v1/trainings/{id}/events/`: the run's Server-Sent Events (``work.event_stream``): the
current status and progress first, then `status`, `progress` (step, loss, ETA) and `sample`
events, and a final `completed` event with the training resource."""

from __future__ import annotations

from work.event_stream import EventStream

from ..models import TrainingRun
from ..selectors import trainings_visible_to
from ..work_kind import TRAININGS


class TrainingEventStream(EventStream):
    kind = TRAININGS
    url_kwarg = "training_id"
    forwarded = ("progress", "status", "sample")

    def visible(self, user):
        return trainings_visible_to(user)

    def closing_events(self, row: TrainingRun, request):
        from .serializers import TrainingSerializer

        return [("completed", TrainingSerializer(row, context={"request": request}).data)]


training_events = TrainingEventStream().view
