"""Everything compat uses from the apps below it, imported in this one module: the apps are
being reshaped (job lifecycle, LoRA registry and style presets move to apps of their own), and
then only these imports change.

Used by every other module of compat; nothing here has logic of its own."""

from accounts.authentication import HashedTokenAuthentication, token_user
from characters.selectors import loras_visible_to
from generation.api.serializers import JobCreateSerializer, LoraChoiceSerializer
from generation.api.waiting import wait_for_end
from generation.models import (
    FINISHED_STATUSES,
    GeneratedImage,
    GenerationJob,
    JobKind,
    JobSource,
    JobStatus,
)
from generation.selectors import enabled_styles, jobs_visible_to
from generation.services import job_cancel, job_create_from_request
from generation.signals_redis import read_progress
from generation.uploads import upload_create
from generation.worker_registry import live_workers
from gpu_worker.engine.schedulers import SCHEDULER_NAMES

# The most images one job makes; a request for more becomes several jobs.
MAX_IMAGES_PER_JOB = JobCreateSerializer().fields["num_images"].max_value

__all__ = [
    "FINISHED_STATUSES",
    "MAX_IMAGES_PER_JOB",
    "SCHEDULER_NAMES",
    "GeneratedImage",
    "GenerationJob",
    "HashedTokenAuthentication",
    "JobCreateSerializer",
    "JobKind",
    "JobSource",
    "JobStatus",
    "LoraChoiceSerializer",
    "enabled_styles",
    "job_cancel",
    "job_create_from_request",
    "jobs_visible_to",
    "live_workers",
    "loras_visible_to",
    "read_progress",
    "token_user",
    "upload_create",
    "wait_for_end",
]
