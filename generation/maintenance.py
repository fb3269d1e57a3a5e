"""Housekeeping: removing old finished jobs with their images and stored files, and what
crashes left behind (stored objects no row names, dead processes' upload folders)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from core.orphan_sweep import SweepResult, sweep_orphans
from core.stored_files import delete_files_on_commit
from core.upload_temp import sweep_upload_temp_dirs

from .models import GeneratedImage, GenerationJob
from .selectors import jobs_finished_before

_AGE = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_age(text: str) -> timedelta:
    """'30d', '12h', '45m' -> timedelta; anything else is a ValueError naming the format."""
    match = _AGE.match(text or "")
    if not match:
        raise ValueError(f"Age {text!r} is not understood; use a number and d, h or m (e.g. 30d).")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@dataclass
class CleanupResult:
    cutoff: datetime
    job_ids: list[str] = field(default_factory=list)
    image_ids: list[str] = field(default_factory=list)
    file_names: list[str] = field(default_factory=list)
    deleted: bool = False


def cleanup_finished_jobs(
    *, older_than: timedelta, dry_run: bool = True, now: datetime | None = None
) -> CleanupResult:
    """Delete finished jobs that ended before now - ``older_than``, their image rows and their
    stored files (images, thumbnails, conditioning images). Queued and running jobs are never
    touched. With ``dry_run`` (the default) nothing is deleted; the result says what would be."""
    result = CleanupResult(cutoff=(now or timezone.now()) - older_than)
    with transaction.atomic():
        # Lock the rows, so a job requeued meanwhile is either deleted finished or kept queued.
        jobs = jobs_finished_before(cutoff=result.cutoff).select_for_update().order_by("created_at")
        for pk, conditioning in jobs.values_list("pk", "conditioning"):
            result.job_ids.append(str(pk))
            # The control images the worker stored for the job ([{"type", "key"}]).
            result.file_names += [item["key"] for item in conditioning or [] if item.get("key")]
        images = GeneratedImage.objects.filter(job_id__in=result.job_ids).order_by("job", "index")
        for image in images:
            result.image_ids.append(str(image.pk))
            result.file_names += [f.name for f in (image.file, image.thumbnail) if f.name]
        if dry_run or not result.job_ids:
            return result
        GenerationJob.objects.filter(pk__in=result.job_ids).delete()  # cascades to the images
        result.deleted = True
        # Files go only once the rows are gone for good: a rollback must not leave rows
        # pointing at deleted files.
        delete_files_on_commit(list(result.file_names))
    return result


@dataclass
class OrphanCleanup:
    stored: SweepResult  # stored objects no row names, past the grace period
    upload_dirs: list[str]  # temporary upload folders of stopped processes


def cleanup_orphans(*, grace: timedelta, dry_run: bool = True) -> OrphanCleanup:
    """What crashes leave behind: stored objects under every registered prefix (uploads,
    avatars, references, generated images, LoRAs, training checkpoints) that no row names and
    that are older than ``grace``, and the temporary upload folders of web processes that are
    gone (Django's files of uploads they were reading when killed). With ``dry_run`` (the
    default) nothing is deleted; the result says what would be."""
    return OrphanCleanup(
        stored=sweep_orphans(grace=grace, dry_run=dry_run),
        upload_dirs=sweep_upload_temp_dirs(dry_run=dry_run),
    )
