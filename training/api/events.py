"""`GET /api/v1/trainings/{id}/events/`: Server-Sent Events, as for jobs: the current status
and progress first, then `status`, `progress` (step, loss, ETA) and `sample` events, and a
final `completed` event with the training resource."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse

from generation.api.events import KEEPALIVE_SECONDS, authenticated_user, error_response, sse_message
from generation.api.live import JobSubscription, is_final
from generation.signals_redis import read_progress

from ..models import TrainingRun
from ..selectors import trainings_visible_to

_FORWARDED = ("progress", "status", "sample")


def _visible_run(user, run_id) -> TrainingRun | None:
    return trainings_visible_to(user).filter(pk=run_id).first()


def _status(run_id: str) -> str | None:
    return TrainingRun.objects.filter(pk=run_id).values_list("status", flat=True).first()


def _final_payload(run_id: str, request) -> dict:
    from .serializers import TrainingSerializer

    run = TrainingRun.objects.select_related("lora").get(pk=run_id)
    return TrainingSerializer(run, context={"request": request}).data


async def training_events(request, training_id):
    user = await sync_to_async(authenticated_user)(request)
    if user is None:
        return error_response(
            401, "not_authenticated", "Authentication credentials were not provided."
        )
    run = await sync_to_async(_visible_run)(user, training_id)
    if run is None:
        return error_response(404, "not_found", "Not found.")
    run_id = str(run.id)

    async def stream():
        async with JobSubscription(run_id) as subscription:
            status = await sync_to_async(_status)(run_id)
            yield sse_message("status", {"status": status})
            progress = await sync_to_async(read_progress)(run_id)
            if progress:
                yield sse_message("progress", progress)
            final = is_final(status)
            while not final:
                message = await subscription.next(timeout=KEEPALIVE_SECONDS)
                if message is None:
                    yield b": keep-alive\n\n"
                    final = is_final(await sync_to_async(_status)(run_id))
                    continue
                if message["event"] in _FORWARDED:
                    yield sse_message(message["event"], message["data"])
                final = message["event"] == "status" and is_final(message["data"].get("status"))
        yield sse_message("completed", await sync_to_async(_final_payload)(run_id, request))

    response = StreamingHttpResponse(stream(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
