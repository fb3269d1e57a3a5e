"""`GET /api/v1/jobs/{id}/events/`: Server-Sent Events from Redis pub/sub.

A client that connects late first gets the current status and progress; the stream sends a
keep-alive comment every 15 s and ends after the final status with a `completed` event."""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from django.http import JsonResponse, StreamingHttpResponse
from rest_framework.request import Request

from accounts.authentication import HashedTokenAuthentication

from ..models import GenerationJob
from ..selectors import jobs_visible_to
from ..signals_redis import read_progress
from .live import JobSubscription, is_final

KEEPALIVE_SECONDS = 15.0


def error_response(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def authenticated_user(request):
    try:
        result = HashedTokenAuthentication().authenticate(Request(request))
    except Exception:
        return None
    if result:
        return result[0]
    return request.user if request.user.is_authenticated else None


def _visible_job(user, job_id) -> GenerationJob | None:
    return jobs_visible_to(user=user).filter(pk=job_id).first()


def _final_payload(job_id: str, request) -> tuple[list, dict]:
    from .serializers import GeneratedImageSerializer, JobSerializer

    job = GenerationJob.objects.prefetch_related("images").get(pk=job_id)
    images = [
        GeneratedImageSerializer(image, context={"request": request}).data
        for image in job.images.all()
    ]
    return images, JobSerializer(job, context={"request": request}).data


def _status(job_id: str) -> str:
    return GenerationJob.objects.filter(pk=job_id).values_list("status", flat=True).first()


def _queue_state(job: GenerationJob) -> dict | None:
    from ..queue_position import queue_state

    state = queue_state(job)
    if state is not None:
        state["estimated_start"] = state["estimated_start"].isoformat()
    return state


def sse_message(event: str, data) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


async def job_events(request, job_id):
    user = await sync_to_async(authenticated_user)(request)
    if user is None:
        return error_response(
            401, "not_authenticated", "Authentication credentials were not provided."
        )
    job = await sync_to_async(_visible_job)(user, job_id)
    if job is None:
        return error_response(404, "not_found", "Not found.")
    job_id = str(job.id)

    async def stream():
        async with JobSubscription(job_id) as subscription:
            current = await sync_to_async(GenerationJob.objects.get)(pk=job_id)
            yield sse_message("status", {"status": current.status})
            if current.status == "queued":
                yield sse_message("queue", await sync_to_async(_queue_state)(current))
            progress = await sync_to_async(read_progress)(job_id)
            if progress:
                preview = {k: progress.pop(k) for k in ("preview", "preview_step") if k in progress}
                if "step" in progress:
                    yield sse_message("progress", progress)
                if preview.get("preview"):
                    total = progress.get("total")
                    data = {"step": preview.get("preview_step"), "total": total}
                    yield sse_message("preview", {**data, "image": preview["preview"]})
            final = is_final(current.status)
            while not final:
                message = await subscription.next(timeout=KEEPALIVE_SECONDS)
                if message is None:
                    yield b": keep-alive\n\n"
                    status = await sync_to_async(_status)(job_id)
                    final = is_final(status)
                    if status == "queued":  # the queue moved on: a fresh position
                        current = await sync_to_async(GenerationJob.objects.get)(pk=job_id)
                        yield sse_message("queue", await sync_to_async(_queue_state)(current))
                    continue
                if message["event"] in ("progress", "status", "preview"):
                    yield sse_message(message["event"], message["data"])
                final = message["event"] == "status" and is_final(message["data"].get("status"))
        images, resource = await sync_to_async(_final_payload)(job_id, request)
        for image in images:
            yield sse_message("image", image)
        yield sse_message("completed", resource)

    response = StreamingHttpResponse(stream(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
