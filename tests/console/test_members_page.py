"""The members page: the list (role, status, guideline read), adding by username, creating
an account, changing a role, pausing and resuming, removing; the last manager's rule as a
readable error; and that only managers reach any of it."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from annotation import services
from annotation.models import AuditLog, Membership

pytestmark = pytest.mark.django_db
User = get_user_model()


def member(project, user) -> Membership:
    return Membership.objects.get(project=project, user=user)


def test_the_list_shows_role_status_and_the_guideline_version_read(project_with_roles,
                                                                    page_client):
    project, users = project_with_roles
    first = services.publish_guideline(actor=users["manager"], project=project, text="v1")
    services.acknowledge_guideline(user=users["annotator"], guideline=first)
    second = services.publish_guideline(actor=users["manager"], project=project, text="v2")
    services.acknowledge_guideline(user=users["reviewer"], guideline=second)
    services.acknowledge_guideline(user=users["outsider"], guideline=second)
    annotator = member(project, users["annotator"])
    annotator.status, annotator.paused_reason = "paused", "Too fast"
    annotator.save()

    response = page_client(users["manager"]).get(f"/projects/{project.pk}/members/")

    assert response.status_code == 200
    rows = {m.user.username: m for m in response.context["rows"]}
    assert set(rows) == {"manager", "reviewer", "annotator"}  # members only
    assert rows["annotator"].acknowledged_version == 1
    assert rows["reviewer"].acknowledged_version == 2
    assert rows["manager"].acknowledged_version is None
    html = response.content.decode()
    assert "v1, not v2" in html and "v2 ✓" in html and "Too fast" in html


def test_adding_a_member_by_username(project_with_roles, make_user, page_client):
    project, users = project_with_roles
    newcomer = make_user("newcomer")
    client = page_client(users["manager"])
    response = client.post(f"/projects/{project.pk}/members/",
                           {"username": "newcomer", "role": "reviewer"})
    assert response.status_code == 303
    assert member(project, newcomer).role == "reviewer"
    log = AuditLog.objects.get(project=project, action="membership.set", data__user="newcomer")
    assert log.actor == users["manager"] and log.data["role"] == "reviewer"

    missing = client.post(f"/projects/{project.pk}/members/",
                          {"username": "nobody-here", "role": "annotator"})
    assert missing.status_code == 400
    assert missing.context["add_form"].errors["username"] == [
        "No user is named 'nobody-here'. Create the account below first."]
    assert 'value="nobody-here"' in missing.content.decode()


def test_creating_an_account_and_adding_it_at_once(project_with_roles, page_client):
    project, users = project_with_roles
    client = page_client(users["manager"])
    response = client.post(f"/projects/{project.pk}/members/new-user/", {
        "username": "ann.one", "password": "a-long-enough-passphrase",
        "email": "ann@example.org", "role": "annotator"})
    assert response.status_code == 303
    created = User.objects.get(username="ann.one")
    assert created.email == "ann@example.org" and created.check_password(
        "a-long-enough-passphrase")
    assert member(project, created).role == "annotator"
    assert AuditLog.objects.filter(action="user.create", target_id=str(created.pk),
                                   actor=users["manager"]).exists()
    assert AuditLog.objects.filter(project=project, action="membership.set",
                                   data__user="ann.one").exists()

    alone = client.post(f"/projects/{project.pk}/members/new-user/", {
        "username": "ann.two", "password": "a-long-enough-passphrase", "role": ""})
    assert alone.status_code == 303
    assert not Membership.objects.filter(user__username="ann.two").exists()


def test_a_bad_account_is_named_and_nothing_is_written(project_with_roles, page_client):
    project, users = project_with_roles
    client = page_client(users["manager"])
    url = f"/projects/{project.pk}/members/new-user/"
    weak = client.post(url, {"username": "weak", "password": "123", "role": "annotator"})
    taken = client.post(url, {"username": "annotator", "password": "a-long-enough-passphrase",
                              "role": "annotator"})
    odd = client.post(url, {"username": "no spaces", "password": "a-long-enough-passphrase",
                            "email": "not-an-email", "role": "annotator"})

    assert weak.status_code == 400
    assert any("too short" in e for e in weak.context["user_form"].errors["password"])
    assert taken.context["user_form"].errors["username"] == [
        "A user with that username already exists."]
    assert odd.context["user_form"].errors["username"] == [
        "Use only letters, digits and @ . + - _."]
    assert "email" in odd.context["user_form"].errors
    assert not User.objects.filter(username__in=["weak", "no spaces"]).exists()
    assert AuditLog.objects.filter(action="user.create").count() == 0


def test_changing_a_role_and_back(project_with_roles, page_client):
    project, users = project_with_roles
    annotator = member(project, users["annotator"])
    client = page_client(users["manager"])
    url = f"/projects/{project.pk}/members/{annotator.pk}/role/"
    assert client.post(url, {"role": "reviewer"}).status_code == 303
    assert member(project, users["annotator"]).role == "reviewer"
    assert client.post(url, {"role": "annotator"}).status_code == 303
    assert member(project, users["annotator"]).role == "annotator"
    roles = list(AuditLog.objects.filter(project=project, action="membership.set",
                                         target_id=str(annotator.pk))
                 .order_by("id").values_list("data__role", flat=True))
    assert roles[-2:] == ["reviewer", "annotator"]


def test_the_last_manager_is_kept_with_a_readable_error(project_with_roles, page_client):
    project, users = project_with_roles
    manager = member(project, users["manager"])
    client = page_client(users["manager"])
    demote = client.post(f"/projects/{project.pk}/members/{manager.pk}/role/",
                         {"role": "annotator"})
    remove = client.post(f"/projects/{project.pk}/members/{manager.pk}/remove/")

    readd = client.post(f"/projects/{project.pk}/members/",
                        {"username": "manager", "role": "reviewer"})

    message = "manager is the project's only manager; make another member a manager first."
    for response in (demote, remove):
        assert response.status_code == 409
        assert response.context["row_error"] == (manager.pk, message)
    assert readd.status_code == 409
    assert readd.context["add_form"].non_field_errors() == [message]
    for response in (demote, remove, readd):
        assert "only manager; make another member a manager first" in response.content.decode()
    assert member(project, users["manager"]).role == "manager"


def test_pausing_with_a_reason_and_resuming(project_with_roles, page_client):
    project, users = project_with_roles
    annotator = member(project, users["annotator"])
    client = page_client(users["manager"])
    url = f"/projects/{project.pk}/members/{annotator.pk}/status/"

    assert client.post(url, {"status": "paused", "reason": "Labels too fast"}).status_code == 303
    annotator.refresh_from_db()
    assert (annotator.status, annotator.paused_reason, annotator.paused_by) == (
        "paused", "Labels too fast", users["manager"])
    page = client.get(f"/projects/{project.pk}/members/").content.decode()
    assert "Labels too fast" in page and "Resume" in page

    assert client.post(url, {"status": "active"}).status_code == 303
    annotator.refresh_from_db()
    assert annotator.status == "active" and annotator.resumed_at is not None
    actions = list(AuditLog.objects.filter(project=project, target_id=str(annotator.pk))
                   .order_by("id").values_list("action", "data__reason"))
    assert actions[-2:] == [("membership.pause", "Labels too fast"), ("membership.resume", "")]
    assert client.post(url, {"status": "asleep"}).status_code == 400


def test_removing_a_member(project_with_roles, page_client):
    project, users = project_with_roles
    reviewer = member(project, users["reviewer"])
    response = page_client(users["manager"]).post(
        f"/projects/{project.pk}/members/{reviewer.pk}/remove/")
    assert response.status_code == 303
    assert not Membership.objects.filter(pk=reviewer.pk).exists()
    assert AuditLog.objects.filter(project=project, action="membership.remove",
                                   data__user="reviewer", actor=users["manager"]).exists()


def test_only_managers_reach_the_members_pages(project_with_roles, page_client):
    project, users = project_with_roles
    other = services.create_project(actor=users["outsider"], name="Elsewhere")
    foreign = member(other, users["outsider"])
    annotator = member(project, users["annotator"])
    base = f"/projects/{project.pk}/members"
    posts = [(f"{base}/", {"username": "outsider", "role": "manager"}),
             (f"{base}/new-user/", {"username": "intruder", "password": "a-long-passphrase-1",
                                    "role": "manager"}),
             (f"{base}/{annotator.pk}/role/", {"role": "manager"}),
             (f"{base}/{annotator.pk}/status/", {"status": "paused", "reason": "x"}),
             (f"{base}/{annotator.pk}/remove/", {})]
    for name in ("annotator", "reviewer", "outsider"):
        client = page_client(users[name])
        assert client.get(f"{base}/").status_code == 404
        for url, data in posts:
            assert client.post(url, data).status_code == 404, (name, url)
    assert page_client(users["staff"]).get(f"{base}/").status_code == 200
    # Another project's member through this project's URL.
    manager = page_client(users["manager"])
    assert manager.post(f"{base}/{foreign.pk}/remove/").status_code == 404
    assert Membership.objects.filter(pk=foreign.pk).exists()
    assert member(project, users["annotator"]).status == "active"
    assert not User.objects.filter(username="intruder").exists()


def test_every_form_needs_its_csrf_token(project_with_roles):
    project, users = project_with_roles
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["manager"])
    annotator = member(project, users["annotator"])
    response = client.post(f"/projects/{project.pk}/members/{annotator.pk}/status/",
                           {"status": "paused", "reason": "forged"})
    assert response.status_code == 403
    assert member(project, users["annotator"]).status == "active"
    page = client.get(f"/projects/{project.pk}/members/").content.decode()
    # The log-out form, adding and creating, and three forms on each of the three rows.
    assert page.count('name="csrfmiddlewaretoken"') == 1 + 2 + 3 * 3
