"""`manage.py cleanup`: old finished jobs go with their images and files; nothing else does."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.utils import timezone

from generation.maintenance import parse_age
from generation.models import GeneratedImage, GenerationJob
from tests.fixtures.admin import make_image, make_job
from work.models import WorkStatus

pytestmark = pytest.mark.django_db


def aged(job: GenerationJob, days: float, finished: bool = True) -> GenerationJob:
    when = timezone.now() - timedelta(days=days)
    GenerationJob.objects.filter(pk=job.pk).update(
        created_at=when, finished_at=when if finished else None
    )
    return job


def files_of(job: GenerationJob) -> list[str]:
    job.refresh_from_db()
    controls = [item["key"] for item in job.conditioning]
    return controls + [
        name
        for image in GeneratedImage.objects.filter(job=job)
        for name in (image.file.name, image.thumbnail.name)
        if name
    ]


@pytest.fixture
def jobs(user):
    old = {
        status: aged(make_job(user, status=status), days=40)
        for status in (WorkStatus.SUCCEEDED, WorkStatus.FAILED, WorkStatus.CANCELLED)
    }
    for job in old.values():
        make_image(job, index=0)
        make_image(job, index=1, thumbnail=False)
    control = old[WorkStatus.SUCCEEDED]
    key = default_storage.save(f"generated/{control.pk}/conditioning/canny.png", ContentFile(b"x"))
    GenerationJob.objects.filter(pk=control.pk).update(conditioning=[{"type": "canny", "key": key}])
    recent = aged(make_job(user, status=WorkStatus.SUCCEEDED), days=2)
    make_image(recent)
    running = aged(make_job(user, status=WorkStatus.RUNNING), days=90, finished=False)
    queued = aged(make_job(user, status=WorkStatus.QUEUED), days=90, finished=False)
    return {"old": list(old.values()), "recent": recent, "running": running, "queued": queued}


def cleanup(*args) -> str:
    out = StringIO()
    call_command("cleanup", *args, stdout=out)
    return out.getvalue()


def test_dry_run_is_the_default_and_deletes_nothing(jobs):
    old_files = [name for job in jobs["old"] for name in files_of(job)]
    assert len(old_files) == 10
    for args in ((), ("--dry-run",)):
        output = cleanup("--older-than", "30d", *args)
        assert "Would delete 3 jobs, 6 images and 10 stored files" in output
        assert all(str(job.pk) in output for job in jobs["old"])
        assert "nothing was deleted" in output
    assert GenerationJob.objects.count() == 6 and GeneratedImage.objects.count() == 7
    assert all(default_storage.exists(name) for name in old_files)


def test_yes_deletes_old_finished_jobs_their_images_and_files(
    jobs, django_capture_on_commit_callbacks
):
    old_files = [name for job in jobs["old"] for name in files_of(job)]
    kept_files = files_of(jobs["recent"])
    with django_capture_on_commit_callbacks(execute=True):
        output = cleanup("--older-than", "30d", "--yes")
    assert "Deleted 3 jobs, 6 images and 10 stored files" in output
    remaining = set(GenerationJob.objects.values_list("pk", flat=True))
    assert remaining == {jobs["recent"].pk, jobs["running"].pk, jobs["queued"].pk}
    assert GeneratedImage.objects.count() == 1
    assert not any(default_storage.exists(name) for name in old_files)
    assert all(default_storage.exists(name) for name in kept_files)


def test_hours_reach_the_recent_job_but_never_running_ones(
    jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        cleanup("--older-than", "24h", "--yes")
    remaining = set(GenerationJob.objects.values_list("status", flat=True))
    assert remaining == {WorkStatus.RUNNING, WorkStatus.QUEUED}


@pytest.mark.parametrize(("text", "expected"), [("30d", 30 * 86400), ("12h", 43200), ("5m", 300)])
def test_parse_age(text, expected):
    assert parse_age(text).total_seconds() == expected


@pytest.mark.parametrize("text", ["30", "d", "30w", "-1d", "1.5d"])
def test_bad_ages_are_refused(db, text):
    with pytest.raises(CommandError, match="not understood"):
        cleanup(f"--older-than={text}")
