"""Adding members: bad ``user`` and ``role`` values are 400s naming the field, and a project
always keeps a manager."""

from __future__ import annotations

import pytest

from annotation import services
from annotation.models import Membership
from rankwise.errors import Conflict

from .conftest import error_body


def members_url(project) -> str:
    return f"/api/v1/projects/{project.pk}/members/"


@pytest.mark.parametrize("body,field", [
    ({"user": "outsider"}, "role"),
    ({"user": "outsider", "role": "boss"}, "role"),
    ({"user": "outsider", "role": None}, "role"),
    ({"user": "²", "role": "annotator"}, "user"),
    ({"user": "٣", "role": "annotator"}, "user"),
    ({"user": "1.5", "role": "annotator"}, "user"),
    ({"user": 1.5, "role": "annotator"}, "user"),
    ({"user": True, "role": "annotator"}, "user"),
    ({"user": [1], "role": "annotator"}, "user"),
    ({"user": {"id": 1}, "role": "annotator"}, "user"),
    ({"user": None, "role": "annotator"}, "user"),
    ({"user": "", "role": "annotator"}, "user"),
    ({"user": 2**70, "role": "annotator"}, "user"),
    ({"user": str(10**30), "role": "annotator"}, "user"),
    ({"user": -1, "role": "annotator"}, "user"),
    ({"user": "x" * 151, "role": "annotator"}, "user"),
    ({"role": "annotator"}, "user"),
])
def test_bad_member_bodies_are_400s_naming_the_field(project_with_roles, client_for, body,
                                                     field):
    project, users = project_with_roles
    before = Membership.objects.count()
    answer = client_for(users["manager"]).post(members_url(project), body, format="json")
    error_body(answer, 400, field=field)
    assert Membership.objects.count() == before


@pytest.mark.parametrize("reference", ["id", "id as text", "username"])
def test_a_user_is_named_by_id_or_username(project_with_roles, client_for, reference):
    project, users = project_with_roles
    outsider = users["outsider"]
    user = {"id": outsider.pk, "id as text": str(outsider.pk),
            "username": outsider.username}[reference]
    answer = client_for(users["manager"]).post(
        members_url(project), {"user": user, "role": "reviewer"}, format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["user"] == outsider.pk
    assert answer.json()["username"] == outsider.username


def test_the_schema_says_id_or_username(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    user = schema["components"]["schemas"]["Membership"]["properties"]["user"]
    assert {alternative["type"] for alternative in user["oneOf"]} == {"integer", "string"}
    assert "user id (integer) or a username (string)" in user["description"]


# --- the last manager -----------------------------------------------------------------------

def manager_membership(project, user) -> Membership:
    return Membership.objects.get(project=project, user=user)


@pytest.mark.parametrize("actor", ["manager", "staff"])
def test_the_last_manager_cannot_be_removed(project_with_roles, client_for, actor):
    project, users = project_with_roles
    membership = manager_membership(project, users["manager"])
    answer = client_for(users[actor]).delete(f"{members_url(project)}{membership.pk}/")
    body = error_body(answer, 409)
    assert body["code"] == "last_manager"
    assert "only manager" in body["detail"]
    assert Membership.objects.filter(pk=membership.pk, role="manager").exists()


@pytest.mark.parametrize("actor", ["manager", "staff"])
@pytest.mark.parametrize("role", ["annotator", "reviewer"])
def test_the_last_manager_cannot_be_demoted(project_with_roles, client_for, actor, role):
    project, users = project_with_roles
    answer = client_for(users[actor]).post(
        members_url(project), {"user": users["manager"].pk, "role": role}, format="json")
    assert error_body(answer, 409)["code"] == "last_manager"
    assert manager_membership(project, users["manager"]).role == "manager"


def test_the_services_refuse_it_too(project_with_roles):
    project, users = project_with_roles
    membership = manager_membership(project, users["manager"])
    with pytest.raises(Conflict):
        services.remove_membership(actor=users["staff"], membership=membership)
    with pytest.raises(Conflict):
        services.set_membership(actor=users["staff"], project=project, user=users["manager"],
                                role="annotator")
    # Still a manager, and pausing one keeps the role.
    services.set_membership(actor=users["manager"], project=project, user=users["manager"],
                            role="manager", status="paused")


def test_with_two_managers_one_can_leave_and_the_other_then_cannot(project_with_roles,
                                                                   client_for):
    project, users = project_with_roles
    manager, second = users["manager"], users["reviewer"]
    client = client_for(manager)
    promoted = client.post(members_url(project), {"user": second.username, "role": "manager"},
                           format="json")
    assert promoted.status_code == 200, promoted.content
    leaving = manager_membership(project, manager)
    assert client.delete(f"{members_url(project)}{leaving.pk}/").status_code == 204
    remaining = manager_membership(project, second)
    answer = client_for(second).delete(f"{members_url(project)}{remaining.pk}/")
    assert error_body(answer, 409)["code"] == "last_manager"


def test_with_two_managers_one_can_step_down(project_with_roles, client_for):
    project, users = project_with_roles
    services.set_membership(actor=users["manager"], project=project, user=users["reviewer"],
                            role="manager")
    answer = client_for(users["manager"]).post(
        members_url(project), {"user": users["manager"].pk, "role": "annotator"}, format="json")
    assert answer.status_code == 200, answer.content
    assert manager_membership(project, users["manager"]).role == "annotator"
    answer = client_for(users["reviewer"]).post(
        members_url(project), {"user": users["reviewer"].pk, "role": "reviewer"}, format="json")
    assert error_body(answer, 409)["code"] == "last_manager"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_managers_demoting_each_other_at_once_leave_one(make_user):
    import threading

    from django.db import connection

    first, second = make_user("first"), make_user("second")
    project = services.create_project(actor=first, name="Race", responses_per_item=2)
    services.set_membership(actor=first, project=project, user=second, role="manager")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(actor, user) -> None:
        try:
            barrier.wait()
            services.set_membership(actor=actor, project=project, user=user, role="annotator")
            outcomes.append("demoted")
        except Conflict:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=demote, args=(first, second)),
               threading.Thread(target=demote, args=(second, first))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["demoted", "refused"]
    assert project.memberships.filter(role="manager").count() == 1
