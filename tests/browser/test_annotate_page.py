"""The ranking page as served, before any script runs: who may open it, where it sends
annotators who have not read the guidelines, and what it hands to the script."""

from __future__ import annotations

import json
import re

import pytest

from annotation import services
from annotation.models import Membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(make_user):
    manager = make_user("boss")
    project = services.create_project(actor=manager, name="Plain", responses_per_item=3)
    annotator = make_user("ann")
    services.set_membership(actor=manager, project=project, user=annotator,
                            role=Membership.Role.ANNOTATOR)
    return project, manager, annotator


def page_config(response) -> dict:
    found = re.search(r'<script id="annotate-config" type="application/json">(.*?)</script>',
                      response.content.decode(), re.S)
    return json.loads(found.group(1))


def test_outsiders_get_404_and_anonymous_users_the_login_page(client, project, make_user):
    project, _manager, _annotator = project
    response = client.get(f"/projects/{project.pk}/annotate/")
    assert response.status_code == 302 and response.url.startswith("/login/")
    client.force_login(make_user("stranger"))
    assert client.get(f"/projects/{project.pk}/annotate/").status_code == 404
    assert client.get("/projects/999999/annotate/").status_code == 404


def test_annotators_get_the_page_with_its_settings(client, project):
    project, _manager, annotator = project
    client.force_login(annotator)
    response = client.get(f"/projects/{project.pk}/annotate/")
    assert response.status_code == 200
    assert response.cookies.get("csrftoken"), "the script needs the CSRF cookie for its POSTs"
    config = page_config(response)
    assert config["projectId"] == project.pk
    assert config["k"] == 3
    assert config["flags"] == ["harmful", "factually_wrong", "refusal", "unsure", "other"]
    assert config["urls"]["next"] == f"/api/v1/projects/{project.pk}/next/"
    body = response.content.decode()
    assert 'value="factually_wrong"' in body and "Factually wrong" in body
    assert 'id="strength" class="strength" hidden' in body


def test_the_projects_own_flags_are_offered(client, project):
    project, manager, annotator = project
    services.update_project(actor=manager, project=project,
                            settings={"flags": ["off_topic", "toxic"]})
    client.force_login(annotator)
    response = client.get(f"/projects/{project.pk}/annotate/")
    assert page_config(response)["flags"] == ["off_topic", "toxic"]
    assert "Off topic" in response.content.decode()
    assert 'value="harmful"' not in response.content.decode()


def test_unread_guidelines_come_first(client, project):
    project, manager, annotator = project
    guideline = services.publish_guideline(actor=manager, project=project, text="Be kind.")
    client.force_login(annotator)
    response = client.get(f"/projects/{project.pk}/annotate/")
    assert response.status_code == 302
    assert response.url == (
        f"/projects/{project.pk}/guidelines/?next=%2Fprojects%2F{project.pk}%2Fannotate%2F")
    services.acknowledge_guideline(user=annotator, guideline=guideline)
    assert client.get(f"/projects/{project.pk}/annotate/").status_code == 200


def test_home_and_project_pages_offer_to_start_annotating(client, project):
    project, _manager, annotator = project
    client.force_login(annotator)
    link = f'href="/projects/{project.pk}/annotate/"'
    assert link in client.get("/").content.decode()
    assert link in client.get(f"/projects/{project.pk}/").content.decode()
