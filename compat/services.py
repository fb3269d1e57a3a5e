"""Writes of the compatibility APIs: a client's request becomes ordinary jobs of the caller
(through generation's serializer and service, so quotas, throttles, fair share, batching and
cost accounting all apply), and the caller's AUTOMATIC1111 options and interrupts."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from PIL import Image

from accounts.models import User
from core.errors import Conflict, InvalidParams

from .images import as_png_file
from .model_lookup import resolve_model
from .models import A1111Options
from .platform import (
    MAX_IMAGES_PER_JOB,
    GenerationJob,
    JobCreateSerializer,
    JobSource,
    WorkStatus,
    job_cancel,
    job_create_from_request,
    upload_create,
)
from .selectors import unfinished_jobs_of


@dataclass
class JobPlan:
    """One request's jobs before they exist. ``body`` is a platform job request
    (JobCreateSerializer's fields; its ``num_images`` may exceed what one job makes);
    ``images`` are stored as the caller's uploads first, each under the body field that takes
    the upload's id (``source_upload``, ``mask_upload``, ``control.image``)."""

    body: dict[str, Any]
    images: dict[str, Image.Image] = field(default_factory=dict)


def compat_jobs_create(
    *, owner: User, plans: list[JobPlan], source: str, source_user: str = ""
) -> list[GenerationJob]:
    """Create every job of ``plans``: all of them or none. A body asking for more images than
    one job makes becomes several jobs (consecutive seeds when a seed is given). Each body is
    checked by the platform's serializer before anything is stored (a ValidationError with
    the platform's field names); the images are then stored as uploads and the jobs created
    in one transaction, checked again by ``job_create`` (params, ownership, quotas). On any
    failure nothing stays: the uploads made are deleted with their files."""
    bodies = [(plan, chunk) for plan in plans for chunk in _chunks(plan.body)]
    for plan, chunk in bodies:
        _validated(_with_uploads(chunk, {path: str(uuid.uuid4()) for path in plan.images}))
    uploads = []
    try:
        plan_uploads = {}
        for plan in plans:
            plan_uploads[id(plan)] = {}
            for path, image in plan.images.items():
                upload = upload_create(owner=owner, upload=as_png_file(image))
                uploads.append(upload)
                plan_uploads[id(plan)][path] = str(upload.pk)
        with transaction.atomic():
            jobs = []
            for plan, chunk in bodies:
                data = _validated(_with_uploads(chunk, plan_uploads[id(plan)]))
                job, _ = job_create_from_request(
                    owner=owner, data=data, source=source, source_user=source_user
                )
                jobs.append(job)
    except BaseException:
        for upload in uploads:
            upload.image.delete(save=False)
            upload.delete()
        raise
    return jobs


def _chunks(body: dict[str, Any]) -> list[dict[str, Any]]:
    total = body.get("num_images", 1)
    chunks = []
    for offset in range(0, total, MAX_IMAGES_PER_JOB):
        chunk = copy.deepcopy(body)
        chunk["num_images"] = min(MAX_IMAGES_PER_JOB, total - offset)
        if body.get("seed") is not None:
            chunk["seed"] = body["seed"] + offset
        chunks.append(chunk)
    return chunks


def _with_uploads(body: dict[str, Any], upload_ids: dict[str, str]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    for path, upload_id in upload_ids.items():
        target = body
        *parents, name = path.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[name] = upload_id
    return body


def _validated(body: dict[str, Any]) -> dict[str, Any]:
    serializer = JobCreateSerializer(data=body)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@transaction.atomic
def a1111_options_set(*, user: User, sd_model_checkpoint: str) -> A1111Options:
    """Store the caller's model for later txt2img/img2img requests (a name from
    ``resolve_model``; an unknown one is a 400 naming ``sd_model_checkpoint``)."""
    choice = resolve_model(sd_model_checkpoint)
    if choice is None:
        message = f"No model named {sd_model_checkpoint!r}; see /sdapi/v1/sd-models."
        raise InvalidParams(message, {"sd_model_checkpoint": [message]})
    options, _ = A1111Options.objects.update_or_create(
        user=user, defaults={"sd_model_checkpoint": choice.name}
    )
    return options


def a1111_jobs_interrupt(*, user: User, running_only: bool) -> list[GenerationJob]:
    """Cancel the caller's AUTOMATIC1111 jobs: all unfinished ones (``interrupt``: stop what
    was asked for), or only the running ones (``skip``: the queued rest of a batch goes on).
    Other users' jobs and the caller's jobs from other APIs are never touched. Returns the
    jobs cancelled."""
    jobs = unfinished_jobs_of(user=user, source=JobSource.A1111)
    if running_only:
        jobs = jobs.filter(status=WorkStatus.RUNNING)
    cancelled = []
    for job in jobs:
        try:
            cancelled.append(job_cancel(job=job))
        except Conflict:
            continue  # it ended meanwhile
    return cancelled
