"""Every registered model's admin pages render for staff and are refused to anyone else."""

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

pytestmark = pytest.mark.django_db

# Registered by django-rq: a dashboard without rows (its changelist is the queue overview);
# usage per user and month and the books' review metrics: read-only roll-ups of rows, no row
# pages of their own.
WITHOUT_ROWS = {"django_rq.dashboard", "usage.monthlyusage", "books.reviewmetrics"}


def registered():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label_lower)


def admin_url(model, page: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


def test_every_registered_model_has_a_row_in_the_fixture(rows):
    missing = [
        model._meta.label_lower
        for model, _ in registered()
        if model._meta.model_name not in rows and model._meta.label_lower not in WITHOUT_ROWS
    ]
    assert missing == []


def test_changelist_add_and_change_pages_render_for_staff(staff_client, staff, rows):
    request = RequestFactory().get("/")
    request.user = staff
    for model, model_admin in registered():
        label = model._meta.label_lower
        response = staff_client.get(admin_url(model, "changelist"))
        assert response.status_code == 200, label
        if label in WITHOUT_ROWS:
            continue
        expected_add = 200 if model_admin.has_add_permission(request) else 403
        assert staff_client.get(admin_url(model, "add")).status_code == expected_add, label
        row = rows[model._meta.model_name]
        assert staff_client.get(admin_url(model, "change", row.pk)).status_code == 200, label


def test_jobs_and_images_have_no_add_page(staff, rows):
    # Jobs and training runs come from the API, images from GPU workers, uploads from users,
    # deliveries from the webhook worker, acting records from requests made for others, share
    # links (their token is shown once, to the owner) and exports from the API: the admin
    # offers no add page for them.
    request = RequestFactory().get("/")
    request.user = staff
    refused = {
        model._meta.model_name
        for model, model_admin in registered()
        if model._meta.label_lower not in WITHOUT_ROWS
        and not model_admin.has_add_permission(request)
    }
    assert refused == {
        "generationjob", "generatedimage", "upload", "webhookdelivery", "trainingrun",
        "actingrecord", "sharelink", "bookexport",
    }  # fmt: skip


@pytest.mark.parametrize("who", ["non-staff", "anonymous"])
def test_pages_are_refused_to_non_staff(client, make_user, rows, who):
    if who == "non-staff":
        client.force_login(make_user("bob"))
    for model, _ in registered():
        urls = [admin_url(model, "changelist")]
        if model._meta.label_lower not in WITHOUT_ROWS:
            urls += [
                admin_url(model, "add"),
                admin_url(model, "change", rows[model._meta.model_name].pk),
            ]
        for url in urls:
            response = client.get(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("admin:login")), url


def test_index_links_the_rq_dashboard_which_is_staff_only(staff_client, client, make_user):
    index = staff_client.get(reverse("admin:index"))
    dashboard = reverse("django_rq:home")
    assert f'href="{dashboard}"'.encode() in index.content
    assert staff_client.get(dashboard).status_code == 200
    client.force_login(make_user("bob"))
    assert client.get(dashboard).status_code == 302
