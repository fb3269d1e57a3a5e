"""Admin actions have their effect on the rows (and the queues) through the services."""

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from generation.models import GeneratedImage, GenerationJob
from generation.work_kind import JOBS
from tests.fixtures.admin import make_image, make_job, run_action
from work.models import WorkStatus
from work.redis_queue import enqueue_row, get_queue

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_cancel_ends_a_queued_job_and_reports_a_finished_one(staff_client, user, empty_queues):
    queued = make_job(user, status=WorkStatus.QUEUED)
    enqueue_row(JOBS, queued)
    assert str(queued.pk) in get_queue("gpu").job_ids
    done = make_job(user, status=WorkStatus.SUCCEEDED)

    response = run_action(staff_client, "generationjob", "cancel_jobs", [queued, done])

    queued.refresh_from_db()
    done.refresh_from_db()
    assert queued.status == WorkStatus.CANCELLED and queued.finished_at is not None
    assert str(queued.pk) not in get_queue("gpu").job_ids
    assert done.status == WorkStatus.SUCCEEDED
    texts = messages_of(response)
    assert any(str(done.pk) in text and "nothing to cancel" in text for text in texts)
    assert "Cancelled 1 of 2." in texts


def test_requeue_puts_a_failed_job_back_on_its_queue(
    staff_client, user, empty_queues, django_capture_on_commit_callbacks
):
    failed = make_job(user, status=WorkStatus.FAILED, error={"code": "oom", "message": "boom"})
    succeeded = make_job(user, status=WorkStatus.SUCCEEDED)

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(staff_client, "generationjob", "requeue_jobs", [failed, succeeded])

    failed.refresh_from_db()
    assert failed.status == WorkStatus.QUEUED and failed.error is None
    assert get_queue("gpu").job_ids == [str(failed.pk)]
    assert GenerationJob.objects.get(pk=succeeded.pk).status == WorkStatus.SUCCEEDED
    assert any("retry it" in text for text in messages_of(response))


@pytest.fixture
def images(user):
    job = make_job(user)
    return [make_image(job, index=i, score=0.2 * i) for i in range(3)]


@pytest.mark.parametrize(
    ("action", "field", "value"),
    [
        ("approve", "review_status", "approved"),
        ("reject", "review_status", "rejected"),
        ("feature", "featured", True),
    ],
)
def test_review_actions_change_the_selected_images_only(staff_client, images, action, field, value):
    run_action(staff_client, "generatedimage", action, images[:2])
    values = {image.pk: getattr(image, field) for image in GeneratedImage.objects.all()}
    assert [values[image.pk] for image in images] == [value, value, getattr(images[2], field)]


def test_unfeature_and_counts(staff_client, images):
    run_action(staff_client, "generatedimage", "feature", images)
    response = run_action(staff_client, "generatedimage", "unfeature", images[:1])
    assert list(GeneratedImage.objects.filter(featured=True).order_by("index")) == images[1:]
    assert "Unfeatured: 1 of 1 changed." in messages_of(response)


def test_deleting_jobs_removes_their_images_and_files(
    staff_client, user, django_capture_on_commit_callbacks
):
    job = make_job(user)
    image = make_image(job)
    names = [image.file.name, image.thumbnail.name]
    assert all(default_storage.exists(name) for name in names)
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(staff_client, "generationjob", "delete_selected", [job])
        # The confirmation page, then the confirmed post.
        assert response.status_code == 200
        staff_client.post(
            reverse("admin:generation_generationjob_changelist"),
            {"action": "delete_selected", "_selected_action": [str(job.pk)], "post": "yes"},
        )
    assert not GenerationJob.objects.filter(pk=job.pk).exists()
    assert not GeneratedImage.objects.filter(pk=image.pk).exists()
    assert not any(default_storage.exists(name) for name in names)


def test_deleting_images_removes_their_files(
    staff_client, user, django_capture_on_commit_callbacks
):
    job = make_job(user)
    gone, kept = make_image(job, index=0), make_image(job, index=1)
    url = reverse("admin:generation_generatedimage_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        data = {"action": "delete_selected", "_selected_action": [str(gone.pk)], "post": "yes"}
        assert staff_client.post(url, data).status_code == 302
    assert list(GeneratedImage.objects.all()) == [kept]
    assert not default_storage.exists(gone.file.name)
    assert not default_storage.exists(gone.thumbnail.name)
    assert default_storage.exists(kept.file.name)
