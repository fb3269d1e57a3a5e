"""Everything compat uses from the apps below it, imported in this one module, so a move of
any of it among those apps changes only these imports: the catalog (style presets, LoRAs,
scheduler names), the one lifecycle of background work (statuses, the one progress rule,
workers, and the long wait that holds no thread and no database connection) and generation
(the job request and its services).

Used by every other module of compat; nothing here has logic of its own."""

from accounts.authentication import HashedTokenAuthentication, token_user
from catalog.models import Scheduler
from catalog.selectors import enabled_base_models, enabled_styles, loras_visible_to
from generation.api.serializers import JobCreateSerializer, LoraChoiceSerializer
from generation.models import GeneratedImage, GenerationJob, JobKind, JobSource
from generation.selectors import jobs_visible_to
from generation.services import job_cancel, job_create_from_request
from generation.uploads import upload_create
from generation.work_kind import JOBS
from work.models import ACTIVE_STATUSES, FINISHED_STATUSES, WorkStatus
from work.progress import work_progress
from work.waiting import WAIT, admit_long_wait, refusal, wait_for_row_end
from work.workers import live_workers

# The most images one job makes; a request for more becomes several jobs.
MAX_IMAGES_PER_JOB = JobCreateSerializer().fields["num_images"].max_value
# The schedulers a job may name (the engine's, as the catalog lists them).
SCHEDULER_NAMES = tuple(Scheduler.values)

__all__ = [
    "ACTIVE_STATUSES",
    "FINISHED_STATUSES",
    "JOBS",
    "MAX_IMAGES_PER_JOB",
    "SCHEDULER_NAMES",
    "GeneratedImage",
    "GenerationJob",
    "HashedTokenAuthentication",
    "JobCreateSerializer",
    "JobKind",
    "JobSource",
    "LoraChoiceSerializer",
    "WorkStatus",
    "enabled_base_models",
    "enabled_styles",
    "job_cancel",
    "job_create_from_request",
    "jobs_visible_to",
    "live_workers",
    "loras_visible_to",
    "token_user",
    "WAIT",
    "admit_long_wait",
    "refusal",
    "upload_create",
    "wait_for_row_end",
    "work_progress",
]
