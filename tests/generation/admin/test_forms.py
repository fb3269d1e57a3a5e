"""Admin forms: uploads go through the services; what they refuse shows on the form."""

import pytest
from django.urls import reverse

from tests.fixtures.admin import make_image, make_job

pytestmark = pytest.mark.django_db


def test_image_changelist_shows_thumbnails_and_filters_by_score(staff_client, user):
    job = make_job(user)
    low = make_image(job, index=0, score=0.1)
    high = make_image(job, index=1, score=0.8, thumbnail=False)
    unscored = make_image(job, index=2, score=None)
    url = reverse("admin:generation_generatedimage_changelist")
    page = staff_client.get(url).content.decode()
    assert page.count('alt="image ') == 3 and f'alt="image 0 of {job.pk}"' in page
    assert low.thumbnail.name.split("/")[-1] in page  # the thumbnail, not the full image
    assert high.file.name.split("/")[-1] in page  # no thumbnail: the image itself

    def shown(**query):
        return {row.pk for row in staff_client.get(url, query).context["cl"].result_list}

    assert shown(score="lt0.3") == {low.pk}
    assert shown(score="ge0.7") == {high.pk}
    assert shown(score="none") == {unscored.pk}
    assert shown(score="0.3-0.5") == set()
    ordered = staff_client.get(url, {"o": "-5"}).context["cl"].result_list  # column 5: score
    assert [row.pk for row in ordered] == [high.pk, low.pk, unscored.pk]
    ordered = staff_client.get(url, {"o": "5"}).context["cl"].result_list
    assert [row.pk for row in ordered] == [unscored.pk, low.pk, high.pk]


def test_image_change_page_shows_the_image_large_and_the_manifest(staff_client, user):
    image = make_image(make_job(user), score=0.5)
    page = staff_client.get(reverse("admin:generation_generatedimage_change", args=[image.pk]))
    html = page.content.decode()
    assert "max-width:768px" in html and image.file.name.split("/")[-1] in html
    assert "&quot;model&quot;: &quot;demo:tiny-sdxl&quot;" in html


def test_image_change_page_review_goes_through_the_service(staff_client, user):
    image = make_image(make_job(user))
    url = reverse("admin:generation_generatedimage_change", args=[image.pk])
    response = staff_client.post(url, {"review_status": "approved", "featured": "on"})
    assert response.status_code == 302
    image.refresh_from_db()
    assert (image.review_status, image.featured) == ("approved", True)


def test_job_change_page_is_read_only_and_pretty(staff_client, user):
    job = make_job(
        user,
        status="failed",
        timings={"queue_ms": 12, "total_ms": 900},
        error={"code": "out_of_memory", "message": "CUDA out of memory"},
    )
    make_image(job)
    html = staff_client.get(
        reverse("admin:generation_generationjob_change", args=[job.pk])
    ).content.decode()
    assert "&quot;prompt&quot;: &quot;a lighthouse&quot;" in html
    assert "&quot;total_ms&quot;: 900" in html
    assert "&quot;code&quot;: &quot;out_of_memory&quot;" in html
    assert 'alt="image 0"' in html  # the job's images, linked
    assert 'name="status"' not in html  # nothing editable
