"""What generating a job produced, on its way to storage: every image (accepted ones marked),
the conditioning images and the timings."""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

from generation.models import GeneratedImage, JobStatus
from generation.services import job_mark_failed

# What a job's error says when the worker failed it for a bug: the traceback stays in the logs.
UNEXPECTED_ERROR_MESSAGE = (
    "The worker hit an unexpected error; the team has the details in the logs."
)


def fail_unexpectedly(job_id: str, timings: dict) -> dict:
    """Fail a job for a worker bug (logged by the caller); the result RQ reports."""
    job_mark_failed(
        job_id=job_id, code="internal", message=UNEXPECTED_ERROR_MESSAGE, timings=timings
    )
    return {"status": JobStatus.FAILED}


@dataclass
class Outcome:
    """What a run produced: every image, the accepted ones marked, and the timings."""

    images: list[GeneratedImage] = field(default_factory=list)
    conditioning: list[tuple[str, Image.Image]] = field(default_factory=list)
    conditioning_records: list[dict] = field(default_factory=list)
    generated: int = 0  # before rejected images are dropped (ILLU_KEEP_REJECTED_IMAGES)
    timings: dict[str, int] = field(default_factory=dict)

    def add_time(self, key: str, ms: int) -> None:
        self.timings[key] = self.timings.get(key, 0) + ms
