"""The "New project" and project settings pages: who may open them, what a valid form
writes (through the services, audit-logged), and that every bad value comes back next to
its field with the typed input kept and nothing written."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from annotation import services
from annotation.models import AuditLog, Item, Membership, Project

pytestmark = pytest.mark.django_db

GOOD = {"name": "Tea preferences", "description": "Which answer is kinder?",
        "responses_per_item": "3", "overlap": "2", "gold_rate": "0.1",
        "lease_seconds": "900", "flags": "harmful\nrude, off_topic"}


def settings_form(project: Project, **changes) -> dict:
    """The settings form as the page fills it for ``project``, with ``changes``."""
    data = {"name": project.name, "description": project.description,
            "responses_per_item": project.responses_per_item, "overlap": project.overlap,
            "gold_rate": project.gold_rate, "lease_seconds": project.lease_seconds,
            "flags": "harmful\nother"}
    return {**data, **changes}


def field_errors(response, name: str) -> list[str]:
    return [str(e) for e in response.context["form"].errors.get(name, [])]


# --- new project ----------------------------------------------------------------------------


def test_a_user_granted_add_project_creates_a_project_and_lands_on_it(make_user, page_client):
    lead = make_user("team-lead")
    lead.user_permissions.add(Permission.objects.get(codename="add_project"))
    client = page_client(lead)
    assert 'id="new-project"' in client.get("/").content.decode()
    assert client.get("/projects/new/").status_code == 200

    response = client.post("/projects/new/", GOOD)

    project = Project.objects.get(name="Tea preferences")
    assert response.status_code == 303
    assert response["Location"] == f"/projects/{project.pk}/"
    assert (project.description, project.responses_per_item, project.overlap,
            project.gold_rate, project.lease_seconds) == ("Which answer is kinder?", 3, 2, 0.1,
                                                          900)
    assert project.settings == {"flags": ["harmful", "rude", "off_topic"]}
    assert Membership.objects.get(project=project, user=lead).role == "manager"
    assert AuditLog.objects.filter(project=project, actor=lead, action="project.create").exists()


def test_the_new_project_page_follows_the_apis_rule(project_with_roles, make_user,
                                                    page_client):
    _project, users = project_with_roles
    for name in ("manager", "staff"):
        assert page_client(users[name]).get("/projects/new/").status_code == 200
    for name in ("annotator", "reviewer", "outsider"):
        client = page_client(users[name])
        assert 'id="new-project"' not in client.get("/").content.decode()
        assert client.get("/projects/new/").status_code == 403
        assert client.post("/projects/new/", {**GOOD, "name": name}).status_code == 403
    assert not Project.objects.filter(name__in=["annotator", "reviewer", "outsider"]).exists()
    anonymous = page_client(None).get("/projects/new/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")


def test_bad_values_come_back_next_to_their_fields_with_the_input_kept(project_with_roles,
                                                                       page_client):
    _project, users = project_with_roles
    before = Project.objects.count()
    response = page_client(users["manager"]).post("/projects/new/", {
        **GOOD, "name": "", "responses_per_item": "10", "overlap": "0", "gold_rate": "1.5",
        "lease_seconds": "5", "flags": "harmful\n" + "x" * 65})

    assert response.status_code == 400
    assert field_errors(response, "name") == ["This field is required."]
    assert "less than or equal to 9" in field_errors(response, "responses_per_item")[0]
    assert "greater than or equal to 1" in field_errors(response, "overlap")[0]
    assert "less than or equal to 1" in field_errors(response, "gold_rate")[0]
    assert "greater than or equal to 30" in field_errors(response, "lease_seconds")[0]
    assert field_errors(response, "flags") == ["must be at most 64 characters"]
    html = response.content.decode()
    assert 'value="10"' in html and "Which answer is kinder?" in html
    assert Project.objects.count() == before


def test_flags_are_judged_by_the_settings_rules(project_with_roles, page_client):
    _project, users = project_with_roles
    client = page_client(users["manager"])
    too_long = client.post("/projects/new/", {**GOOD, "flags": "harmful\n" + "x" * 65})
    repeated = client.post("/projects/new/", {**GOOD, "flags": "rude, rude"})
    empty = client.post("/projects/new/", {**GOOD, "flags": " , "})

    assert too_long.status_code == 400
    assert field_errors(too_long, "flags") == ["must be at most 64 characters"]
    assert field_errors(repeated, "flags") == ["must not repeat an entry"]
    assert field_errors(empty, "flags") == ["must have at least 1 entries"]
    assert not Project.objects.filter(name="Tea preferences").exists()


# --- settings -------------------------------------------------------------------------------


def test_a_manager_edits_fields_and_typed_settings(project_with_roles, page_client):
    project, users = project_with_roles
    project.settings = {"judges": {}, "quality": {"min_labels": 7, "consensus": "majority"}}
    project.save()
    client = page_client(users["manager"])
    page = client.get(f"/projects/{project.pk}/settings/")
    assert page.status_code == 200
    assert page.context["form"]["quality__min_labels"].value() == "7"

    response = client.post(f"/projects/{project.pk}/settings/", settings_form(
        project, overlap="4", quality__min_labels="5", quality__consensus="",
        reward_model__auto="true", reward_model__layers="1, 2", policy__temperature="0.7",
        qualification__required="3", active_learning="false"))

    assert response.status_code == 303
    project.refresh_from_db()
    assert project.overlap == 4
    assert project.settings == {
        "flags": ["harmful", "other"], "active_learning": False,
        "quality": {"min_labels": 5}, "reward_model": {"auto": True, "layers": [1, 2]},
        "policy": {"temperature": 0.7}, "qualification": {"required": 3}}
    log = AuditLog.objects.get(project=project, action="project.update")
    assert log.actor == users["manager"] and log.data["fields"] == ["overlap", "settings"]


def test_saving_an_unchanged_form_writes_nothing(project_with_roles, page_client):
    project, users = project_with_roles
    project.settings = {"flags": ["harmful", "other"]}
    project.save()
    response = page_client(users["manager"]).post(f"/projects/{project.pk}/settings/",
                                                  settings_form(project))
    assert response.status_code == 303
    assert not AuditLog.objects.filter(project=project, action="project.update").exists()


def test_bad_settings_are_named_next_to_their_fields(project_with_roles, page_client):
    project, users = project_with_roles
    response = page_client(users["manager"]).post(f"/projects/{project.pk}/settings/",
                                                  settings_form(
        project, overlap="5", quality__min_labels="0", quality__flag_below_trust="high",
        reward_model__layers="1, x", policy__temperature="nan", quality__consensus="vote",
        export__license="x" * 65, qualification__required="2.5"))

    assert response.status_code == 400
    assert field_errors(response, "quality__consensus")[0].startswith("Select a valid choice")
    assert field_errors(response, "quality__min_labels") == ["must be at least 1"]
    assert field_errors(response, "quality__flag_below_trust") == ["must be a number"]
    assert field_errors(response, "reward_model__layers") == ["must be an integer"]
    assert field_errors(response, "policy__temperature") == ["must be a finite number"]
    assert field_errors(response, "export__license") == ["must be at most 64 characters"]
    assert field_errors(response, "qualification__required") == ["must be an integer"]
    html = response.content.decode()
    assert 'value="high"' in html and 'value="1, x"' in html
    project.refresh_from_db()
    assert project.overlap == 2 and project.settings == {}
    assert not AuditLog.objects.filter(project=project, action="project.update").exists()


def test_k_cannot_change_once_the_project_has_items(project_with_roles, page_client):
    project, users = project_with_roles
    Item.objects.create(project=project, prompt="p", content_hash="h")
    response = page_client(users["manager"]).post(f"/projects/{project.pk}/settings/",
                                                  settings_form(project, responses_per_item="4",
                                                                overlap="5"))
    assert response.status_code == 400
    assert field_errors(response, "responses_per_item") == [
        "Cannot change K once the project has items."]
    project.refresh_from_db()
    assert (project.responses_per_item, project.overlap) == (2, 2)


def test_settings_are_for_managers_only(project_with_roles, page_client):
    project, users = project_with_roles
    url = f"/projects/{project.pk}/settings/"
    assert page_client(users["staff"]).get(url).status_code == 200
    for name in ("annotator", "reviewer", "outsider"):
        client = page_client(users[name])
        assert client.get(url).status_code == 404
        assert client.post(url, settings_form(project, overlap="9")).status_code == 404
    project.refresh_from_db()
    assert project.overlap == 2
    assert page_client(users["manager"]).get("/projects/999999/settings/").status_code == 404


def test_the_project_page_links_the_console_for_managers_only(project_with_roles, page_client):
    project, users = project_with_roles
    services.set_membership(actor=users["manager"], project=project, user=users["outsider"],
                            role=Membership.Role.ANNOTATOR, status=Membership.Status.PAUSED)
    manager_page = page_client(users["manager"]).get(f"/projects/{project.pk}/").content.decode()
    for url in ("settings/", "members/", "guidelines/edit/"):
        assert f'href="/projects/{project.pk}/{url}"' in manager_page
    assert "4 members" in manager_page and "outsider (annotator, paused)" in manager_page
    annotator_page = page_client(users["annotator"]).get(
        f"/projects/{project.pk}/").content.decode()
    assert f"/projects/{project.pk}/members/" not in annotator_page
