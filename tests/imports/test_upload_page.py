"""The manager's upload page in the web UI."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from annotation.models import Annotation, Item

from .conftest import counts, gz, jsonl

HH = {"chosen": "\n\nHuman: Hi\n\nAssistant: Hello", "rejected": "\n\nHuman: Hi\n\nAssistant: Go."}


def page(project):
    return f"/projects/{project.pk}/import/"


def logged_in(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


def upload(data: bytes, name="pairs.jsonl"):
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_manager_uploads_a_file_and_sees_the_counts(project_with_roles):
    project, users = project_with_roles
    client = logged_in(users["manager"])
    form = client.get(page(project))
    assert form.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in form.content
    assert b'enctype="multipart/form-data"' in form.content
    response = client.post(page(project), {"file": upload(gz(jsonl(HH, HH))),
                                           "format": "hh-rlhf", "labels": ""})
    assert response.status_code == 200
    assert response.context["result"] == {"created": 1, "prompts": 0, "duplicates": 1, "imported_labels": 1,
                                          "gold": 0, "empty_responses": 0}
    assert b'id="created">1<' in response.content
    assert Annotation.objects.get(item__project=project).source == "import"


def test_labels_none_from_the_form(project_with_roles):
    project, users = project_with_roles
    response = logged_in(users["manager"]).post(
        page(project), {"file": upload(jsonl(HH)), "format": "hh-rlhf", "labels": "none"})
    assert response.context["result"]["imported_labels"] == 0
    assert counts(project) == {"items": 1, "responses": 2, "annotations": 0}


def test_bad_lines_are_listed_and_nothing_is_stored(project_with_roles):
    project, users = project_with_roles
    response = logged_in(users["manager"]).post(
        page(project), {"file": upload(jsonl(HH, {"chosen": 1}, HH, "{oops")),
                        "format": "hh-rlhf"})
    assert response.status_code == 400
    assert response.context["detail"] == "2 lines are invalid; nothing was imported."
    assert [e["line"] for e in response.context["errors"]] == [2, 4]
    assert b"chosen must be a transcript string, not a number." in response.content
    assert Item.objects.filter(project=project).count() == 0


def test_a_k_mismatch_is_shown(project_k3, project_with_roles):
    _, users = project_with_roles
    response = logged_in(users["manager"]).post(
        page(project_k3), {"file": upload(jsonl(HH)), "format": "hh-rlhf"})
    assert response.status_code == 400
    assert "format: hh-rlhf lines hold 2 responses" in response.context["detail"]


@pytest.mark.parametrize("role", ["annotator", "reviewer", "outsider"])
def test_non_managers_get_404(project_with_roles, role):
    project, users = project_with_roles
    client = logged_in(users[role])
    assert client.get(page(project)).status_code == 404
    response = client.post(page(project), {"file": upload(jsonl(HH)), "format": "hh-rlhf"})
    assert response.status_code == 404
    assert Item.objects.filter(project=project).count() == 0


def test_anonymous_users_are_sent_to_log_in(project_with_roles):
    project, _ = project_with_roles
    response = Client().get(page(project))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_csrf_is_enforced(project_with_roles):
    project, users = project_with_roles
    client = logged_in(users["manager"], enforce_csrf_checks=True)
    refused = client.post(page(project), {"file": upload(jsonl(HH)), "format": "hh-rlhf"})
    assert refused.status_code == 403
    assert Item.objects.filter(project=project).count() == 0
    client.get(page(project))
    token = client.cookies["csrftoken"].value
    accepted = client.post(page(project), {"file": upload(jsonl(HH)), "format": "hh-rlhf",
                                           "csrfmiddlewaretoken": token})
    assert accepted.status_code == 200
    assert Item.objects.filter(project=project).count() == 1


def test_project_page_links_managers_to_the_upload(project_with_roles):
    project, users = project_with_roles
    link = f'href="{page(project)}"'.encode()
    assert link in logged_in(users["manager"]).get(f"/projects/{project.pk}/").content
    assert link not in logged_in(users["annotator"]).get(f"/projects/{project.pk}/").content
