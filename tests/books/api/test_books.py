"""Books over the API: create, pages, reorder, generate through the job service, select,
regenerate; bad input names the field."""

from __future__ import annotations

import pytest

from books.models import Book, BookStatus, PageJob
from generation.models import GenerationJob, JobKind
from tests.fixtures.api import make_generated_image

pytestmark = pytest.mark.django_db


def test_create_gives_the_defaults_and_the_pages_in_order(api, book, hero):
    assert book["page_width_in"] == 8.5 and book["page_height_in"] == 8.5
    assert book["bleed_in"] == 0.125 and book["dpi"] == 300 and book["status"] == "draft"
    assert [page["text"] for page in book["pages"]] == [
        "Pip woke early.",
        "A whale said hello.",
        "Home again.",
    ]
    assert [page["order"] for page in book["pages"]] == [0, 1, 2]
    assert book["pages"][0]["characters"] == [str(hero.id)]
    assert book["progress"] == {"pages_done": 0, "pages_total": 3}
    assert book["cost"] == {"gpu_seconds": 0.0, "images": 0, "jobs": 0}
    listed = api.get("/api/v1/books/").json()
    assert [item["id"] for item in listed["results"]] == [book["id"]]


def test_reorder_patch_and_delete_pages(api, book):
    ids = [page["id"] for page in book["pages"]]
    url = f"/api/v1/books/{book['id']}/pages/"
    reordered = api.post(url + "reorder/", {"order": ids[::-1]}, format="json").json()
    assert [page["id"] for page in reordered["pages"]] == ids[::-1]
    bad = api.post(url + "reorder/", {"order": ids[:2]}, format="json")
    assert bad.status_code == 400 and "order" in bad.json()["error"]["fields"]
    patched = api.patch(url + f"{ids[0]}/", {"text": "Pip woke late."}, format="json").json()
    assert patched["text"] == "Pip woke late."
    assert api.delete(url + f"{ids[1]}/").status_code == 204
    after = api.get(f"/api/v1/books/{book['id']}/").json()
    assert [page["id"] for page in after["pages"]] == [ids[2], ids[0]]
    assert [page["order"] for page in after["pages"]] == [0, 1]


def test_bad_input_names_the_field_and_stores_nothing(api, make_user, book):
    from characters.services import character_create

    strangers = character_create(owner=make_user("eve"), name="Eve's")
    response = api.post(
        "/api/v1/books/", {"title": "x", "characters": [str(strangers.id)]}, format="json"
    )
    assert response.status_code == 400 and "characters.0" in response.json()["error"]["fields"]
    response = api.post("/api/v1/books/", {"title": "x", "dpi": "300"}, format="json")
    assert response.status_code == 400 and "dpi" in response.json()["error"]["fields"]
    page = api.post(
        f"/api/v1/books/{book['id']}/pages/",
        {"prompt": "x", "characters": [str(strangers.id)]},
        format="json",
    )
    assert page.status_code == 400 and "characters.0" in page.json()["error"]["fields"]
    assert Book.objects.count() == 1


def test_generate_makes_one_job_per_page_at_the_nearest_bucket(api, book, hero, empty_queues):
    api.patch(
        f"/api/v1/books/{book['id']}/",
        {"page_width_in": 11, "page_height_in": 8.5},
        format="json",
    )
    response = api.post(f"/api/v1/books/{book['id']}/generate/", {}, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["book"]["status"] == "generating"
    jobs = GenerationJob.objects.filter(pk__in=response.json()["jobs"]).order_by(
        "book_page_link__page__order"
    )
    assert [job.kind for job in jobs] == [JobKind.CHARACTER, JobKind.TEXT, JobKind.CHARACTER]
    for job in jobs:
        # 11 x 8.5 in is 1.29:1; the nearest SDXL bucket is 1152x896 (1.29:1).
        assert (job.params["width"], job.params["height"]) == (1152, 896)
        assert job.params["num_images"] == 2
    assert jobs[0].params["character"] == str(hero.id)
    # Pages under way are not generated twice.
    again = api.post(f"/api/v1/books/{book['id']}/generate/", {}, format="json")
    assert again.json()["jobs"] == []
    unknown = api.post(
        f"/api/v1/books/{book['id']}/generate/",
        {"pages": ["00000000-0000-0000-0000-000000000000"]},
        format="json",
    )
    assert unknown.status_code == 400 and "pages.0" in unknown.json()["error"]["fields"]


def test_select_takes_only_a_candidate_and_regenerate_starts_a_round(api, user, book, empty_queues):
    page_id = book["pages"][1]["id"]
    api.post(f"/api/v1/books/{book['id']}/generate/", {"pages": [page_id]}, format="json")
    link = PageJob.objects.get(page_id=page_id)
    link.job.status = "succeeded"
    link.job.save()
    candidate = make_generated_image(user)
    candidate.job = link.job
    candidate.save()
    outsider = make_generated_image(user)
    url = f"/api/v1/books/{book['id']}/pages/{page_id}/"
    refused = api.post(url + "select/", {"image": str(outsider.id)}, format="json")
    assert refused.status_code == 400 and "image" in refused.json()["error"]["fields"]
    chosen = api.post(url + "select/", {"image": str(candidate.id)}, format="json").json()
    assert chosen["selected_image"]["id"] == str(candidate.id)
    assert [c["id"] for c in chosen["candidates"]] == [str(candidate.id)]
    again = api.post(url + "regenerate/", {"note": "bigger whale"}, format="json")
    assert again.status_code == 202, again.json()
    assert again.json()["selected_image"] is None
    assert again.json()["comments"][0]["text"] == "bigger whale"
    newest = PageJob.objects.filter(page_id=page_id).latest("created_at").job
    assert newest.params["prompt"] == "a whale, bigger whale"
    assert Book.objects.get(pk=book["id"]).status == BookStatus.GENERATING


def test_the_books_model_is_its_page_jobs_model_and_an_unknown_one_is_refused(
    api, book, empty_queues
):
    from catalog.base_models import base_model_register

    base_model_register(slug="demo-tiny-b", name="Demo B", source="demo:tiny-sdxl")
    url = f"/api/v1/books/{book['id']}/"
    refused = api.patch(url, {"model": "no-such-model"}, format="json")
    assert refused.status_code == 400 and "model" in refused.json()["error"]["fields"]
    assert Book.objects.get(pk=book["id"]).model == ""
    assert api.patch(url, {"model": "demo-tiny-b"}, format="json").status_code == 200
    response = api.post(url + "generate/", {}, format="json")
    jobs = GenerationJob.objects.filter(pk__in=response.json()["jobs"])
    assert jobs.count() == 3
    assert {job.params["model"] for job in jobs} == {"demo-tiny-b"}
