"""The per-step hook of a running job: cancellation, deadline and throttled progress."""

from __future__ import annotations

import base64
import io
import time
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from PIL import Image

from generation.webhooks import webhook_emit
from work.redis_channel import cancel_requested, publish_event

from .engine.errors import GenerationCancelled

WEBHOOK_PROGRESS_INTERVAL_S = 2.0


class StepReporter:
    """Called by the engine after every denoising step (``callback_on_step_end``)."""

    def __init__(self, job, *, batches: int = 1):
        self.job = job
        self.job_id = str(job.id)
        self.cancel_at: datetime | None = job.cancel_at
        self.min_interval = 1.0 / settings.ILLU_PROGRESS_MAX_EVENTS_PER_SECOND
        self._last_event = 0.0
        self._last_webhook = 0.0
        self.batch = 0
        self.batches = batches
        self.preview_ms = 0.0  # encoding and publishing previews (the projection is the engine's)

    def next_batch(self) -> None:
        self.batch += 1

    def __call__(self, step: int, total: int) -> None:
        # Raising here aborts the run before the VAE decode: no partial image exists.
        if cancel_requested(self.job_id):
            raise GenerationCancelled(f"Job {self.job_id} was cancelled at step {step}.")
        if self.cancel_at is not None and timezone.now() >= self.cancel_at:
            raise GenerationCancelled(f"Job {self.job_id} reached its cancel_after deadline.")
        now = time.monotonic()
        if step != total and now - self._last_event < self.min_interval:
            return
        self._last_event = now
        data = {
            "step": step,
            "total": total,
            "fraction": round(step / total, 4) if total else 0.0,
            "batch": self.batch,
        }
        publish_event(self.job_id, "progress", data)
        if self.job.webhook_url and now - self._last_webhook >= WEBHOOK_PROGRESS_INTERVAL_S:
            self._last_webhook = now
            webhook_emit(self.job, "progress", data)

    def preview(self, step: int, total: int, image: Image.Image) -> None:
        """A small preview of the current latents as a ``preview`` event (and in the job's
        progress), as a data URL: it lives in Redis only, never among the job's results."""
        started = time.perf_counter()
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=70)
        url = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
        publish_event(self.job_id, "preview", {"step": step, "total": total, "image": url})
        self.preview_ms += (time.perf_counter() - started) * 1000
