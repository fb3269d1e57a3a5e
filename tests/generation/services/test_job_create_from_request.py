"""job_create_from_request: the mapping of a validated create request onto a job row."""

from accounts.models import Quota
from generation.models import GenerationJob
from generation.services import job_create_from_request

REQUEST = {"kind": "text", "prompt": "a lighthouse at dusk", "width": 512, "height": 384}


def test_job_level_fields_go_to_the_row_and_the_rest_to_params(user, empty_queues):
    Quota.objects.create(user=user, allow_high_priority=True)  # priority high needs it
    job, created = job_create_from_request(
        owner=user,
        data={
            **REQUEST,
            "priority": "high",
            "cancel_after": 60,
            "webhook": "https://example.com/hook",
            "webhook_events": ["completed"],
        },
    )
    assert created and job.kind == "text" and job.priority == "high"
    assert job.cancel_at is not None and job.webhook_url == "https://example.com/hook"
    assert job.webhook_events == ["completed"]
    assert job.params["prompt"] == REQUEST["prompt"] and job.params["width"] == 512
    for name in ("kind", "priority", "cancel_after", "webhook", "webhook_events"):
        assert name not in job.params


def test_the_idempotency_header_is_trimmed_cut_and_blank_means_none(user, empty_queues):
    padded = "  " + "k" * 250 + "  "
    first, created = job_create_from_request(owner=user, data=REQUEST, idempotency_key=padded)
    assert created and first.idempotency_key == "k" * 200
    again, created = job_create_from_request(owner=user, data=REQUEST, idempotency_key="k" * 200)
    assert not created and again.pk == first.pk

    blank, created = job_create_from_request(owner=user, data=REQUEST, idempotency_key="   ")
    assert created and blank.idempotency_key is None
    assert GenerationJob.objects.filter(owner=user).count() == 2
