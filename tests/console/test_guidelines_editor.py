"""The guidelines editor: the preview renders exactly as the guidelines page does,
publishing makes a new version (audit-logged), and the page says which member read which
version. Managers only."""

from __future__ import annotations

import json

import pytest

from annotation import services
from annotation.models import AuditLog, Guideline
from annotation.rendering import markdown_to_html

pytestmark = pytest.mark.django_db

MARKDOWN = "# Be kind\n\n- **rank** the *helpful* one first\n\n<script>alert(1)</script>"


def test_the_preview_is_the_guidelines_pages_rendering(project_with_roles, page_client):
    project, users = project_with_roles
    response = page_client(users["manager"]).post(f"/projects/{project.pk}/guidelines/preview/",
                                                  {"text": MARKDOWN})
    assert response.status_code == 200
    html = json.loads(response.content)["html"]
    assert html == markdown_to_html(MARKDOWN)
    assert "<h1>Be kind</h1>" in html and "<strong>rank</strong>" in html
    assert "<script" not in html
    assert not Guideline.objects.exists()


def test_the_preview_button_works_without_javascript(project_with_roles, page_client):
    project, users = project_with_roles
    response = page_client(users["manager"]).post(f"/projects/{project.pk}/guidelines/edit/",
                                                  {"text": MARKDOWN, "action": "preview"})
    assert response.status_code == 200
    assert "<strong>rank</strong>" in response.context["preview"]
    assert "# Be kind" in response.content.decode()  # the text is kept in the editor
    assert not Guideline.objects.exists()


def test_publishing_makes_a_new_version_each_time(project_with_roles, page_client):
    project, users = project_with_roles
    client = page_client(users["manager"])
    url = f"/projects/{project.pk}/guidelines/edit/"
    assert "Publish as version 1" in client.get(url).content.decode()

    assert client.post(url, {"text": MARKDOWN}).status_code == 303
    assert client.post(url, {"text": "Second version."}).status_code == 303

    assert list(project.guidelines.order_by("version").values_list("version", "text")) == [
        (1, MARKDOWN), (2, "Second version.")]
    logs = AuditLog.objects.filter(project=project, action="guideline.publish").order_by("id")
    assert [(log.actor, log.data["version"]) for log in logs] == [
        (users["manager"], 1), (users["manager"], 2)]
    page = client.get(url)
    assert page.context["form"]["text"].value() == "Second version."
    assert "Publish as version 3" in page.content.decode()


def test_a_blank_guideline_is_refused(project_with_roles, page_client):
    project, users = project_with_roles
    response = page_client(users["manager"]).post(f"/projects/{project.pk}/guidelines/edit/",
                                                  {"text": "  \n "})
    assert response.status_code == 400
    assert response.context["form"].errors["text"] == ["Write the guideline before publishing it."]
    assert not Guideline.objects.exists()


def test_who_read_which_version(project_with_roles, page_client):
    project, users = project_with_roles
    first = services.publish_guideline(actor=users["manager"], project=project, text="one")
    services.acknowledge_guideline(user=users["annotator"], guideline=first)
    services.acknowledge_guideline(user=users["staff"], guideline=first)  # not a member
    second = services.publish_guideline(actor=users["manager"], project=project, text="two")
    services.acknowledge_guideline(user=users["reviewer"], guideline=second)

    response = page_client(users["manager"]).get(f"/projects/{project.pk}/guidelines/edit/")

    versions = {g.version: g.n_acknowledged for g in response.context["versions"]}
    assert versions == {2: 1, 1: 1}
    read = {m.user.username: m.acknowledged_version for m in response.context["rows"]}
    assert read == {"manager": None, "reviewer": 2, "annotator": 1}
    html = response.content.decode()
    assert 'id="ack-annotator" data-version="1"' in html
    assert 'id="ack-reviewer" data-version="2"' in html
    assert "ack-staff" not in html


def test_the_editor_is_for_managers_only(project_with_roles, page_client):
    project, users = project_with_roles
    edit = f"/projects/{project.pk}/guidelines/edit/"
    preview = f"/projects/{project.pk}/guidelines/preview/"
    for name in ("annotator", "reviewer", "outsider"):
        client = page_client(users[name])
        assert client.get(edit).status_code == 404
        assert client.post(edit, {"text": "mine now"}).status_code == 404
        assert client.post(preview, {"text": "x"}).status_code == 404
    assert page_client(None).post(preview, {"text": "x"}).status_code == 302
    assert page_client(users["staff"]).get(edit).status_code == 200
    assert not Guideline.objects.exists()
