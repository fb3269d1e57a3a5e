"""What a request's jobs came to decides the answer: images, a timeout, the job's own failure,
or a cancellation (an error for OpenAI, what was made for AUTOMATIC1111)."""

from __future__ import annotations

import pytest

from compat.errors import JobFailed, JobsCancelled, JobsTimedOut
from compat.outcome import check_ended, made_images
from generation.models import GenerationJob
from tests.fixtures.api import make_generated_image

pytestmark = pytest.mark.django_db


def job(owner, status, error=None):
    return GenerationJob.objects.create(
        owner=owner, kind="text", status=status, params={"prompt": "x"}, error=error
    )


def test_the_outcome_of_a_requests_jobs(user):
    done = make_generated_image(user).job
    assert [item.image.job_id for item in made_images([done])] == [done.id]
    check_ended([done])
    with pytest.raises(JobsTimedOut) as timed_out:
        check_ended([done, job(user, "running")])
    assert timed_out.value.status_code == 504
    bad = job(user, "failed", {"code": "invalid_input", "message": "No face."})
    broken = job(user, "failed", {"code": "out_of_memory", "message": "Too big."})
    with pytest.raises(JobFailed) as failed:
        check_ended([done, bad])
    assert (failed.value.status_code, failed.value.code) == (400, "invalid_input")
    assert "No face." in failed.value.message
    with pytest.raises(JobFailed) as failed:
        check_ended([broken])
    assert (failed.value.status_code, failed.value.code) == (500, "out_of_memory")
    cancelled = job(user, "cancelled")
    with pytest.raises(JobsCancelled):
        check_ended([done, cancelled])
    check_ended([done, cancelled], allow_cancelled=True)
    assert len(made_images([done, cancelled])) == 1
