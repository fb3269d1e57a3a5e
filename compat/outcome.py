"""What a request's jobs came to, shared by both APIs' answers: timed out, failed, cancelled,
or the images made (in job order), each with the prompt the model received."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import default_storage

from .errors import JobFailed, JobsCancelled, JobsTimedOut
from .platform import FINISHED_STATUSES, GeneratedImage, GenerationJob, WorkStatus


@dataclass(frozen=True)
class MadeImage:
    job: GenerationJob
    image: GeneratedImage

    @property
    def prompt(self) -> str:
        """The prompt as the model received it (style template, trigger words)."""
        params = self.image.manifest.get("params", {}) if self.image.manifest else {}
        return params.get("resolved_prompt") or self.job.params.get("prompt", "")

    def png_bytes(self) -> bytes:
        with default_storage.open(self.image.file.name, "rb") as handle:
            return handle.read()

    def png_base64(self) -> str:
        return base64.b64encode(self.png_bytes()).decode()


def check_ended(jobs: list[GenerationJob], *, allow_cancelled: bool = False) -> None:
    """Raise what the client is told when not every job succeeded: JobsTimedOut while one is
    unfinished, JobFailed for a failed one, JobsCancelled for a cancelled one unless
    ``allow_cancelled`` (AUTOMATIC1111 answers an interrupt with what was made)."""
    unfinished = [job for job in jobs if job.status not in FINISHED_STATUSES]
    if unfinished:
        ids = ", ".join(str(job.id) for job in unfinished)
        raise JobsTimedOut(
            f"The request's jobs did not finish within {settings.ILLU_COMPAT_WAIT_SECONDS} s. "
            f"They go on: their images will appear in your gallery and in GET /api/v1/jobs/ "
            f"(jobs {ids})."
        )
    for job in jobs:
        if job.status == WorkStatus.FAILED:
            error = job.error or {}
            raise JobFailed(
                error.get("code", "internal"), f"Job {job.id} failed: {error.get('message', '')}"
            )
    cancelled = [job for job in jobs if job.status == WorkStatus.CANCELLED]
    if cancelled and not allow_cancelled:
        raise JobsCancelled(f"Job {cancelled[0].id} was cancelled before it finished.")


def made_images(jobs: list[GenerationJob]) -> list[MadeImage]:
    """Every image of the succeeded jobs, job by job, in index order."""
    return [
        MadeImage(job=job, image=image)
        for job in jobs
        if job.status == WorkStatus.SUCCEEDED
        for image in sorted(job.images.all(), key=lambda image: image.index)
    ]
