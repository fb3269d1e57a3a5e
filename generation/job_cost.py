"""What a job costs, in megapixel-steps: output width x height / 10^6, times denoising steps,
times the most images it may draw (an identity job with a consistency filter keeps drawing up
to ``consistency.max_attempts``). A 1024x1024 image at 30 steps is 31.5; the largest request
the API's ranges allow (2048x2048, 150 steps, 8 images) is 5,033. It is the unit of the
per-job and queued-work bounds (``ILLU_MAX_JOB_COST``, ``ILLU_MAX_QUEUED_COST``, per user in
``accounts.Quota``), and roughly proportional to GPU time."""

from __future__ import annotations

from typing import Any

UNIT = "megapixel-steps"


def images_drawn_at_most(params: dict[str, Any]) -> int:
    images = int(params.get("num_images") or 1)
    consistency = params.get("consistency") or {}
    if consistency.get("filter"):
        images = max(images, int(consistency.get("max_attempts") or images))
    return images


def job_cost(params: dict[str, Any]) -> float:
    """The cost of a job from its resolved parameters (``resolve_params``' result)."""
    pixels = int(params.get("width") or 0) * int(params.get("height") or 0)
    return pixels / 1e6 * int(params.get("steps") or 0) * images_drawn_at_most(params)
