"""The training queue: the run's id only, JSON-serialized, enqueued after commit."""

from django.conf import settings

from generation.queueing import get_queue

TRAINING_QUEUE = "training"
RUN_TRAINING_FUNC = "gpu_worker.training_tasks.run_training_job"


def enqueue_training_run(run) -> None:
    """The RQ job id is the row id, so the reconciler can look a run up in Redis."""
    get_queue(TRAINING_QUEUE).enqueue(
        RUN_TRAINING_FUNC,
        str(run.id),
        job_id=str(run.id),
        job_timeout=settings.ILLU_TRAINING_TIMEOUT,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        description=f"training run {run.id}",
    )
