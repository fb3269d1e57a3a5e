"""Editing kinds in the admin: jobs and images filter by them."""

from __future__ import annotations

import pytest

from generation.models import GenerationJob
from tests.fixtures.admin import make_image, make_job

pytestmark = pytest.mark.django_db


def test_images_and_jobs_filter_by_edit_kind(staff_client, user):
    job = GenerationJob.objects.create(
        owner=user, kind="upscale", status="succeeded", params={"scale": 2}
    )
    upscaled = make_image(job)
    drawn = make_image(make_job(user))
    images = staff_client.get("/admin/generation/generatedimage/?job__kind=upscale")
    assert images.status_code == 200
    shown = {str(image.pk) for image in images.context["cl"].result_list}
    assert shown == {str(upscaled.pk)} and str(drawn.pk) not in shown
    assert "Face Repair" in images.content.decode()  # offered as a filter choice
    jobs = staff_client.get("/admin/generation/generationjob/?kind=upscale")
    assert [job.kind for job in jobs.context["cl"].result_list] == ["upscale"]
