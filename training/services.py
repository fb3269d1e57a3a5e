"""Writes on training runs. Status changes are conditional updates (a late callback never
overwrites a run that already ended) and are published after commit for SSE."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from catalog.models import Lora, LoraType
from characters.models import Character, CharacterLora, ReferenceImage
from core.errors import Conflict, InvalidParams
from generation.models import FINISHED_STATUSES, Upload
from generation.queueing import get_queue
from generation.services import QuotaExceeded
from generation.signals_redis import publish_event, request_cancel

from .models import SourceKind, TrainingRun, TrainingStatus
from .params import (
    CAPTION_TEMPLATES,
    DEFAULT_CAPTION_TEMPLATE,
    caption_for,
    resolve_training_params,
)
from .queueing import TRAINING_QUEUE, enqueue_training_run

ACTIVE = (TrainingStatus.QUEUED, TrainingStatus.RUNNING)
MAX_IMAGES = 200


def training_create(
    *,
    owner: User,
    trigger_word: str,
    character_id: str | None = None,
    upload_ids: list[str] | None = None,
    captions: list[str] | None = None,
    caption_template: str | None = None,
    lora_type: str | None = None,
    name: str | None = None,
    attach_to_character: bool = False,
    params: dict[str, Any] | None = None,
) -> TrainingRun:
    """Check the source images and quotas, store the run and enqueue it after commit."""
    character = _character(owner, character_id) if character_id else None
    lora_type = lora_type or (LoraType.CHARACTER if character else LoraType.STYLE)
    images = _source_images(owner, character, upload_ids or [])
    template = caption_template or CAPTION_TEMPLATES.get(lora_type, DEFAULT_CAPTION_TEMPLATE)
    if captions is not None and len(captions) != len(images):
        raise InvalidParams(
            f"{len(captions)} captions for {len(images)} images; give one per image.",
            {"captions": [f"Give exactly {len(images)} captions, one per image."]},
        )
    for index, item in enumerate(images):
        item["caption"] = captions[index] if captions else caption_for(template, trigger_word)
    if attach_to_character and character is None:
        raise InvalidParams(
            "attach_to_character needs a character.",
            {"attach_to_character": ["Only a character's training can attach its LoRA."]},
        )
    resolved = resolve_training_params(params or {}, lora_type, trigger_word)
    with transaction.atomic():
        _check_quota(owner)
        run = TrainingRun.objects.create(
            owner=owner,
            character=character,
            name=name or (f"{character.name} LoRA" if character else f"{trigger_word} style"),
            lora_type=lora_type,
            trigger_word=trigger_word,
            images=images,
            params=resolved,
            attach_to_character=attach_to_character,
        )
        transaction.on_commit(lambda: enqueue_training_run(run))
    return run


def _character(owner: User, character_id: str) -> Character:
    character = Character.objects.filter(owner=owner, pk=character_id).first()
    if character is None:
        raise InvalidParams(
            f"No character {character_id} among yours.", {"character": ["Unknown character."]}
        )
    return character


def _source_images(owner: User, character: Character | None, upload_ids: list[str]) -> list[dict]:
    if character is not None and upload_ids:
        raise InvalidParams(
            "Give a character or images, not both.",
            {"images": ["Leave out images when training a character from its references."]},
        )
    if character is not None:
        references = list(ReferenceImage.objects.filter(character=character).order_by("created_at"))
        usable = [ref for ref in references if not ref.face_flagged] or references
        if not usable:
            raise InvalidParams(
                f"Character {character.name!r} has no reference images to train on.",
                {"character": ["Add reference images to the character first."]},
            )
        return [{"kind": SourceKind.REFERENCE, "id": str(ref.id)} for ref in usable[:MAX_IMAGES]]
    if not upload_ids:
        raise InvalidParams(
            "Give a character or a list of uploaded images to train on.",
            {"images": ["Required without a character."]},
        )
    owned = Upload.objects.filter(owner=owner, pk__in=upload_ids).values_list("pk", flat=True)
    found = {str(pk) for pk in owned}
    missing = [str(pk) for pk in upload_ids if str(pk) not in found]
    if missing:
        raise InvalidParams(
            f"Unknown uploads: {', '.join(missing)}.",
            {"images": [f"No upload {pk} among yours." for pk in missing]},
        )
    return [{"kind": SourceKind.UPLOAD, "id": str(pk)} for pk in upload_ids]


def _check_quota(owner: User) -> None:
    """Under a lock on the owner's row, so concurrent requests cannot both pass."""
    User.objects.select_for_update().filter(pk=owner.pk).first()
    active = TrainingRun.objects.filter(owner=owner, status__in=ACTIVE).count()
    limit = settings.ILLU_TRAINING_MAX_CONCURRENT
    if active >= limit:
        raise QuotaExceeded(
            f"You have {active} unfinished training runs; the limit is {limit}. "
            "Wait for one to finish or cancel one.",
            retry_after=60,
        )
    month_start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    used = (
        TrainingRun.objects.filter(owner=owner, created_at__gte=month_start)
        .exclude(
            Q(status=TrainingStatus.FAILED)
            | Q(status=TrainingStatus.CANCELLED, started_at__isnull=True)
        )
        .count()
    )
    monthly = settings.ILLU_TRAINING_MONTHLY_LIMIT
    if used >= monthly:
        next_month = (month_start + timedelta(days=32)).replace(day=1)
        raise QuotaExceeded(
            f"You used {used} of your {monthly} training runs this month; the count resets "
            "on the first of the month (UTC).",
            retry_after=math.ceil((next_month - timezone.now()).total_seconds()),
        )


def training_cancel(*, run: TrainingRun) -> TrainingRun:
    """Queued runs end at once; running ones stop within one step and store no LoRA."""
    if run.status in FINISHED_STATUSES:
        raise Conflict(f"Training {run.id} already ended with status {run.status}.")
    request_cancel(str(run.id))
    if TrainingRun.objects.filter(pk=run.pk, status=TrainingStatus.QUEUED).update(
        status=TrainingStatus.CANCELLED, finished_at=timezone.now()
    ):
        get_queue(TRAINING_QUEUE).remove(str(run.id))
        checkpoint = run.checkpoint_key
        _announce(run.id, {"status": TrainingStatus.CANCELLED, "error": None})
        _delete_files_on_commit([checkpoint])
    run.refresh_from_db()
    return run


def training_delete(*, run: TrainingRun) -> None:
    """Delete the run and its checkpoint and samples; a trained LoRA stays in the registry."""
    if run.status in ACTIVE:
        training_cancel(run=run)
        run.refresh_from_db()
    names = [run.checkpoint_key] + [sample["key"] for sample in run.samples]
    run.delete()
    _delete_files_on_commit(names)


def training_mark_running(*, run_id: str, worker_name: str) -> bool:
    updated = TrainingRun.objects.filter(pk=run_id, status=TrainingStatus.QUEUED).update(
        status=TrainingStatus.RUNNING,
        started_at=timezone.now(),
        worker_name=worker_name,
        attempts=F("attempts") + 1,
        retry_at=None,
        error=None,
    )
    if updated:
        _announce(run_id, {"status": TrainingStatus.RUNNING})
    return updated == 1


def training_record_checkpoint(
    *, run_id: str, step: int, key: str, samples: list[dict], loss_history: list[float]
) -> str | None:
    """Point the run at its newest checkpoint; returns the previous key (to delete), or None
    when the run is no longer running (the caller then deletes the new files instead)."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != TrainingStatus.RUNNING:
            return None
        previous = run.checkpoint_key
        TrainingRun.objects.filter(pk=run_id).update(
            checkpoint_key=key,
            checkpoint_step=step,
            samples=[*run.samples, *samples],
            loss_history=loss_history,
        )
    for sample in samples:
        publish_event(str(run_id), "sample", {"step": sample["step"], "prompt": sample["prompt"]})
    return previous


@transaction.atomic
def training_mark_succeeded(
    *, run_id: str, lora: Lora, manifest: dict, samples: list[dict], attach: bool
) -> bool:
    run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
    if run is None or run.status != TrainingStatus.RUNNING:
        return False
    TrainingRun.objects.filter(pk=run_id).update(
        status=TrainingStatus.SUCCEEDED,
        finished_at=timezone.now(),
        lora=lora,
        manifest=manifest,
        loss_history=manifest["loss_history"],
        initial_loss=manifest["initial_loss"],
        final_loss=manifest["final_loss"],
        samples=[*run.samples, *samples],
        checkpoint_key="",
        error=None,
    )
    if attach and run.character_id:
        CharacterLora.objects.update_or_create(
            character_id=run.character_id, lora=lora, defaults={"weight": lora.default_weight}
        )
    _delete_files_on_commit([run.checkpoint_key])
    _announce(run_id, {"status": TrainingStatus.SUCCEEDED, "error": None, "lora": lora.slug})
    return True


def training_mark_failed(*, run_id: str, code: str, message: str) -> bool:
    return _finish(run_id, TrainingStatus.FAILED, {"code": code, "message": message})


def training_mark_cancelled(*, run_id: str) -> bool:
    """running -> cancelled by the worker; the checkpoint goes too (it is a LoRA, nearly)."""
    return _finish(run_id, TrainingStatus.CANCELLED, None, drop_checkpoint=True)


def _finish(run_id: str, status: str, error: dict | None, drop_checkpoint: bool = False) -> bool:
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != TrainingStatus.RUNNING:
            return False
        changes: dict[str, Any] = {"status": status, "finished_at": timezone.now(), "error": error}
        if drop_checkpoint:
            changes["checkpoint_key"] = ""
            _delete_files_on_commit([run.checkpoint_key])
        TrainingRun.objects.filter(pk=run_id).update(**changes)
        _announce(run_id, {"status": status, "error": error})
    return True


def training_schedule_retry(*, run_id: str, code: str, message: str) -> str:
    """A lost worker or a storage failure: back to queued (resuming from its checkpoint) after
    a back-off, or failed after ILLU_JOB_MAX_ATTEMPTS. Returns the new status."""
    run = TrainingRun.objects.filter(pk=run_id).first()
    if run is None:
        return "missing"
    if run.attempts >= settings.ILLU_JOB_MAX_ATTEMPTS:
        training_mark_failed(
            run_id=run_id, code=code, message=f"{message} (gave up after {run.attempts} attempts)"
        )
        return TrainingStatus.FAILED
    delay = settings.ILLU_RETRY_BACKOFF_SECONDS * 2 ** max(0, run.attempts - 1)
    updated = TrainingRun.objects.filter(pk=run_id, status=run.status).update(
        status=TrainingStatus.QUEUED,
        started_at=None,
        worker_name="",
        retry_at=timezone.now() + timedelta(seconds=delay),
        error={"code": code, "message": f"{message} Resuming in {delay} s."},
    )
    if updated:
        publish_event(str(run_id), "status", {"status": TrainingStatus.QUEUED, "retry_in_s": delay})
    return TrainingStatus.QUEUED if updated else run.status


@transaction.atomic
def trained_lora_publish(*, lora: Lora) -> Lora:
    """Staff make a trained (private) LoRA public: every user may then use it."""
    Lora.objects.filter(pk=lora.pk).update(is_public=True)
    lora.refresh_from_db()
    return lora


def _announce(run_id, data: dict) -> None:
    transaction.on_commit(lambda: publish_event(str(run_id), "status", data))


def _delete_files_on_commit(names: list[str]) -> None:
    from django.core.files.storage import default_storage

    def delete() -> None:
        for name in names:
            if name:
                default_storage.delete(name)

    transaction.on_commit(delete)
