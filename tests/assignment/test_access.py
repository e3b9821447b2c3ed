"""Who gets tasks: members only, not paused, guideline acknowledged."""

from __future__ import annotations

import pytest
from django.utils import timezone

from annotation import services as project_services
from annotation.models import Assignment, Membership

from .conftest import add_items, ranking_for


def _next(client, project):
    return client.get(f"/api/v1/projects/{project.pk}/next/")


@pytest.fixture
def project(make_project):
    project = make_project()
    add_items(project, 5)
    return project


@pytest.mark.parametrize("role", ["annotator", "reviewer", "manager"])
def test_members_of_every_role_may_annotate(project, make_annotators, client_for, role):
    (user,) = make_annotators(project, 1, role=role)
    assert _next(client_for(user), project).status_code == 200


def test_non_members_get_404_and_anonymous_users_401(project, make_user, client_for):
    answer = _next(client_for(make_user("stranger")), project)
    assert answer.status_code == 404
    assert answer.json() == {"detail": "No such project.", "errors": []}
    assert _next(client_for(make_user("x")), type(project)(pk=999999)).status_code == 404
    assert _next(client_for(None), project).status_code in (401, 403)
    assert not Assignment.objects.exists()


def test_staff_must_join_to_annotate(project, make_user, client_for):
    staff = make_user("root", staff=True)
    answer = _next(client_for(staff), project)
    assert answer.status_code == 403
    assert answer.json()["code"] == "not_a_member"


def test_paused_members_get_no_new_task_but_may_finish_theirs(project, make_annotators,
                                                              client_for):
    (user,) = make_annotators(project, 1)
    client = client_for(user)
    task = _next(client, project).json()
    project_services.set_membership(actor=project.created_by, project=project, user=user,
                                    role="annotator", status=Membership.Status.PAUSED)
    answer = _next(client, project)
    assert answer.status_code == 403
    body = answer.json()
    assert body["code"] == "membership_paused"
    assert "paused" in body["detail"] and body["errors"] == []
    assert client.post(f"/api/v1/assignments/{task['assignment']}/submit/",
                       {"ranking": ranking_for(task)}, format="json").status_code == 201
    assert _next(client, project).status_code == 403
    project_services.set_membership(actor=project.created_by, project=project, user=user,
                                    role="annotator", status=Membership.Status.ACTIVE)
    assert _next(client, project).status_code == 200


def test_guideline_must_be_acknowledged_and_each_new_version_asks_again(
        project, make_annotators, client_for):
    (user,) = make_annotators(project, 1)
    client = client_for(user)
    project_services.publish_guideline(actor=project.created_by, project=project, text="v1")
    refused = _next(client, project)
    assert refused.status_code == 403
    body = refused.json()
    assert body["code"] == "guideline_not_acknowledged"
    assert body["guideline_version"] == 1
    assert body["acknowledge_url"] == f"/api/v1/projects/{project.pk}/guidelines/acknowledge/"
    assert "acknowledge" in body["detail"]
    assert client.post(body["acknowledge_url"], {}, format="json").status_code == 200
    task = _next(client, project)
    assert task.status_code == 200
    assert task.json()["guideline_version"] == 1
    client.post(f"/api/v1/assignments/{task.json()['assignment']}/submit/",
                {"ranking": ranking_for(task.json())}, format="json")

    project_services.publish_guideline(actor=project.created_by, project=project, text="v2")
    again = _next(client, project)
    assert again.status_code == 403
    assert again.json()["guideline_version"] == 2
    client.post(again.json()["acknowledge_url"], {}, format="json")
    assert _next(client, project).json()["guideline_version"] == 2


def test_the_gate_agrees_with_has_acknowledged_current(project, make_annotators):
    """The engine folds the guideline check into its membership query; it must mean the same
    as annotation.selectors.has_acknowledged_current."""
    from annotation.assignment import statements
    from annotation.selectors import has_acknowledged_current

    alice, bob = make_annotators(project, 2)

    def gate(user) -> bool:
        m = statements.annotator(project_id=project.pk, user_id=user.pk, now=timezone.now())
        return m.guideline_version is None or m.guideline_acknowledged

    assert gate(alice) is has_acknowledged_current(project=project, user=alice) is True
    v1 = project_services.publish_guideline(actor=project.created_by, project=project, text="1")
    project_services.acknowledge_guideline(user=alice, guideline=v1)
    assert gate(alice) is has_acknowledged_current(project=project, user=alice) is True
    assert gate(bob) is has_acknowledged_current(project=project, user=bob) is False
    project_services.publish_guideline(actor=project.created_by, project=project, text="2")
    assert gate(alice) is has_acknowledged_current(project=project, user=alice) is False


def test_a_removed_member_can_no_longer_submit(project, make_annotators, client_for):
    (user,) = make_annotators(project, 1)
    client = client_for(user)
    task = _next(client, project).json()
    membership = Membership.objects.get(project=project, user=user)
    project_services.remove_membership(actor=project.created_by, membership=membership)
    answer = client.post(f"/api/v1/assignments/{task['assignment']}/submit/",
                         {"ranking": ranking_for(task)}, format="json")
    assert answer.status_code == 404
    assert _next(client, project).status_code == 404
