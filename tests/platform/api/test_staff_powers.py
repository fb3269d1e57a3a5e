"""Staff powers have limits: acting for another user (``user_id``) needs the permission
``accounts.act_for_user``, never reaches a superuser unless the actor is one, and leaves an
audit record (who, for whom, what, when) in the transaction of the change, shown read-only in
the admin; the django-rq dashboard is for superusers only."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import ActingRecord, User
from accounts.services import user_allow_acting, user_create
from characters.models import Character
from generation.models import GenerationJob
from tests.conftest import client_for
from work.redis_queue import get_queue

pytestmark = pytest.mark.django_db


def staff_member(name: str, *, may_act: bool) -> User:
    user = user_create(username=name, password=f"{name}-password-1")
    user.is_staff = True
    user.save()
    return user_allow_acting(user=user) if may_act else user


@pytest.fixture
def root(make_user):
    return make_user("root", staff=True)  # make_user's staff are superusers


def test_staff_without_the_permission_may_not_act_for_anyone(alice, empty_queues):
    plain_staff = client_for(staff_member("desk", may_act=False))
    body = {"kind": "text", "prompt": "for alice", "user_id": "alice"}
    response = plain_staff.post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "forbidden"
    assert "user_id" in response.json()["error"]["fields"]
    assert plain_staff.get("/api/v1/characters/?user_id=alice").status_code == 403
    assert not GenerationJob.objects.exists() and not ActingRecord.objects.exists()


def test_acting_staff_reach_users_but_never_a_superuser(alice, root, empty_queues):
    desk = client_for(staff_member("desk", may_act=True))
    Character.objects.create(owner=root, name="Secret")
    for request in (
        lambda: desk.get("/api/v1/characters/?user_id=root"),
        lambda: desk.post("/api/v1/jobs/", {"kind": "text", "prompt": "x", "user_id": "root"}),
        lambda: desk.delete(f"/api/v1/characters/{Character.objects.get().id}/?user_id=root"),
    ):
        response = request()
        assert response.status_code == 403, response.content
        assert "user_id" in response.json()["error"]["fields"]
    assert Character.objects.filter(owner=root).exists()
    assert not GenerationJob.objects.exists() and not ActingRecord.objects.exists()
    # A superuser may act for a superuser.
    listed = client_for(make_superuser("boss")).get("/api/v1/characters/?user_id=root")
    assert [item["name"] for item in listed.json()["results"]] == ["Secret"]


def make_superuser(name: str) -> User:
    return user_create(username=name, password=f"{name}-password-1", is_staff=True)


def test_acting_leaves_a_record_in_the_transaction_of_the_change(alice):
    desk_user = staff_member("desk", may_act=True)
    desk = client_for(desk_user)
    created = desk.post("/api/v1/characters/", {"name": "Luca", "user_id": "alice"}, format="json")
    assert created.status_code == 201
    assert Character.objects.get().owner == alice
    record = ActingRecord.objects.get()
    assert (record.actor, record.for_user, record.action) == (
        desk_user,
        alice,
        "POST /api/v1/characters/",
    )
    # A write that fails after the requester acted stores neither the change nor the record.
    refused = desk.post("/api/v1/characters/", {"name": "Luca", "user_id": "alice"}, format="json")
    assert refused.status_code == 400
    assert Character.objects.count() == 1 and ActingRecord.objects.count() == 1
    # A read has no change: its record stands alone.
    assert desk.get("/api/v1/characters/?user_id=alice").status_code == 200
    assert ActingRecord.objects.filter(action="GET /api/v1/characters/").count() == 1


def test_the_admin_shows_the_records_read_only(alice, root):
    desk = client_for(staff_member("desk", may_act=True))
    desk.get("/api/v1/jobs/?user_id=alice")
    record = ActingRecord.objects.get()
    admin = Client()
    admin.force_login(root)
    listing = admin.get("/admin/accounts/actingrecord/").content.decode()
    assert "desk" in listing and "GET /api/v1/jobs/" in listing
    detail = admin.get(f"/admin/accounts/actingrecord/{record.pk}/change/")
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    admin.post(f"/admin/accounts/actingrecord/{record.pk}/delete/", {"post": "yes"})
    assert admin.get("/admin/accounts/actingrecord/add/").status_code == 403
    assert ActingRecord.objects.filter(pk=record.pk).exists()


def test_the_queue_dashboard_is_for_superusers_only(root, empty_queues):
    queue = get_queue("gpu-high")  # the dashboard's queue 0
    queue.enqueue("os.getcwd")
    clerk = Client()
    clerk.force_login(staff_member("clerk", may_act=True))
    assert clerk.get("/django-rq/").status_code == 403
    assert clerk.post("/django-rq/queues/0/empty/", {"post": "yes"}).status_code == 403
    assert clerk.get("/django-rq/stats.json/").status_code == 403
    assert len(queue) == 1
    assert Client().get("/django-rq/").status_code == 302  # to the admin's sign-in
    boss = Client()
    boss.force_login(root)
    assert boss.get("/django-rq/").status_code == 200
    assert "django-rq" in boss.get("/admin/").content.decode()
    assert "django-rq" not in clerk.get("/admin/").content.decode()


def test_createuser_makes_a_service_account_that_may_act_and_nothing_more(capsys):
    call_command("createuser", "svc", "--password", "svc-password-1", "--act-for-users")
    service = User.objects.get(username="svc")
    assert service.is_staff and not service.is_superuser
    assert service.has_perm("accounts.act_for_user")
    assert not service.has_perm("accounts.change_user")
