"""Writes on training runs that are training's own: create (source images, quotas), delete,
checkpoints, success (the LoRA and the character). Status changes (claim, finish, retry,
cancel) are ``work.lifecycle``'s, with the hooks of ``training.work_kind.TRAININGS``."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from catalog.models import Lora, LoraType
from characters.models import Character, CharacterLora, ReferenceImage
from core.errors import InvalidParams, QuotaExceeded
from core.stored_files import delete_files_on_commit
from generation.models import Upload
from work.lifecycle import work_cancel, work_enqueue_on_commit, work_succeed
from work.models import ACTIVE_STATUSES, WorkStatus
from work.redis_channel import publish_event

from .models import SourceKind, TrainingRun
from .params import (
    CAPTION_TEMPLATES,
    DEFAULT_CAPTION_TEMPLATE,
    caption_for,
    resolve_training_params,
)
from .work_kind import TRAININGS

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
    """Check the source images and quotas, store the run and enqueue it after commit (through
    the path that survives a Redis outage: the run is then enqueued by the reconciler)."""
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
        work_enqueue_on_commit(TRAININGS, run)
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
    active = TrainingRun.objects.filter(owner=owner, status__in=ACTIVE_STATUSES).count()
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
            Q(status=WorkStatus.FAILED) | Q(status=WorkStatus.CANCELLED, started_at__isnull=True)
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
    return work_cancel(TRAININGS, row=run)


def training_delete(*, run: TrainingRun) -> None:
    """Delete the run and its checkpoint and samples; a trained LoRA stays in the registry."""
    if run.status in ACTIVE_STATUSES:
        training_cancel(run=run)
        run.refresh_from_db()
    names = [run.checkpoint_key] + [sample["key"] for sample in run.samples]
    run.delete()
    delete_files_on_commit(names)


def training_record_checkpoint(
    *, run_id: str, step: int, key: str, samples: list[dict], loss_history: list[float]
) -> str | None:
    """Point the run at its newest checkpoint; returns the previous key (to delete), or None
    when the run is no longer running (the caller then deletes the new files instead)."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != WorkStatus.RUNNING:
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
    """running -> succeeded with its LoRA, manifest, losses and last samples; the character
    gets the LoRA when ``attach``. False (and nothing written) when the run is not running."""

    def results(run: TrainingRun) -> dict:
        return {
            "lora": lora,
            "manifest": manifest,
            "loss_history": manifest["loss_history"],
            "initial_loss": manifest["initial_loss"],
            "final_loss": manifest["final_loss"],
            "samples": [*run.samples, *samples],
        }

    if not work_succeed(TRAININGS, row_id=run_id, changes=results, announce={"lora": lora.slug}):
        return False
    character_id = TrainingRun.objects.filter(pk=run_id).values_list("character_id", flat=True)
    if attach and character_id.first():
        CharacterLora.objects.update_or_create(
            character_id=character_id.first(), lora=lora, defaults={"weight": lora.default_weight}
        )
    return True


@transaction.atomic
def trained_lora_publish(*, lora: Lora) -> Lora:
    """Staff make a trained (private) LoRA public: every user may then use it."""
    Lora.objects.filter(pk=lora.pk).update(is_public=True)
    lora.refresh_from_db()
    return lora
