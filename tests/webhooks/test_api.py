"""The HTTP contract: managers only, the secret never shown, bad input named field by
field, the delivery log paginated."""

from __future__ import annotations

import json

import pytest

from annotation.models import AuditLog
from annotation.webhooks.models import Webhook, WebhookDelivery

from .conftest import SECRET

pytestmark = pytest.mark.django_db
URL = "https://hooks.example.com/rankwise"
BODY = {"url": URL, "secret": SECRET, "events": ["snapshot.ready", "item.completed"]}


def _base(project) -> str:
    return f"/api/v1/projects/{project.pk}/webhooks/"


def test_a_manager_adds_lists_reads_and_removes_a_hook(project_with_roles, client_for):
    project, users = project_with_roles
    client = client_for(users["manager"])
    made = client.post(_base(project), BODY, format="json")
    assert made.status_code == 201, made.json()
    hook = made.json()
    assert hook["url"] == URL and hook["events"] == BODY["events"] and hook["active"]
    assert hook["created_by"] == "manager" and hook["project"] == project.pk
    listed = client.get(_base(project))
    assert [h["id"] for h in listed.json()] == [hook["id"]]
    detail = client.get(f"{_base(project)}{hook['id']}/")
    assert detail.json() == hook
    for answer in (made, listed, detail):
        assert SECRET not in answer.content.decode() and "secret" not in answer.json()
    assert Webhook.objects.get(pk=hook["id"]).secret == SECRET  # kept, for signing

    assert client.delete(f"{_base(project)}{hook['id']}/").status_code == 204
    assert not Webhook.objects.filter(pk=hook["id"]).exists()
    assert client.get(f"{_base(project)}{hook['id']}/").status_code == 404
    logged = list(AuditLog.objects.filter(project=project, action__startswith="webhook.")
                  .order_by("id").values_list("action", "target_id", "data"))
    assert [(a, t) for a, t, _ in logged] == [("webhook.create", str(hook["id"])),
                                              ("webhook.delete", str(hook["id"]))]
    assert all(d["url"] == URL for _, _, d in logged)
    assert SECRET not in json.dumps([d for _, _, d in logged])


@pytest.mark.parametrize("role,status", [("reviewer", 403), ("annotator", 403),
                                         ("outsider", 404), ("staff", 201), (None, 401)])
def test_only_managers_may_manage_hooks(project_with_roles, client_for, role, status):
    project, users = project_with_roles
    hook = Webhook.objects.create(project=project, url=URL, secret=SECRET,
                                  events=["snapshot.ready"])
    client = client_for(users.get(role))
    assert client.post(_base(project), BODY, format="json").status_code == status
    read = 200 if status == 201 else status
    for path in ("", f"{hook.pk}/", f"{hook.pk}/deliveries/"):
        assert client.get(_base(project) + path).status_code == read, path
    assert client.post(f"{_base(project)}{hook.pk}/test/").status_code == (
        202 if status == 201 else status)
    assert client.delete(f"{_base(project)}{hook.pk}/").status_code == (
        204 if status == 201 else status)


def test_a_hook_of_another_project_is_not_found(project_with_roles, client_for):
    from annotation import services

    project, users = project_with_roles
    other = services.create_project(actor=users["manager"], name="Other")
    hook = Webhook.objects.create(project=other, url=URL, secret=SECRET,
                                  events=["snapshot.ready"])
    client = client_for(users["manager"])
    for path in (f"{hook.pk}/", f"{hook.pk}/deliveries/"):
        answer = client.get(_base(project) + path)
        assert answer.status_code == 404 and answer.json()["detail"] == "No such webhook."
    assert client.delete(f"{_base(project)}{hook.pk}/").status_code == 404
    assert Webhook.objects.filter(pk=hook.pk).exists()


def _fields(answer) -> dict[str, str]:
    assert answer.status_code == 400, answer.content
    body = answer.json()
    assert body["detail"] and body["errors"]
    return {e["field"].split(".")[0]: e["message"] for e in body["errors"]}


@pytest.mark.parametrize("change,field", [
    ({"url": "ftp://hooks.example.com/"}, "url"),
    ({"url": "https://user:pw@hooks.example.com/"}, "url"),
    ({"url": "not a url"}, "url"),
    ({"url": "https://hooks.example.com/\x00"}, "url"),
    ({"secret": "too-short"}, "secret"),
    ({"secret": "x" * 257}, "secret"),
    ({"events": []}, "events"),
    ({"events": ["snapshot.ready", "everything"]}, "events"),
    ({"events": "snapshot.ready"}, "events"),
    ({"events": ["ping"]}, "events"),
])
def test_bad_input_is_a_400_naming_the_field(project_with_roles, client_for, change, field):
    project, users = project_with_roles
    answer = client_for(users["manager"]).post(_base(project), {**BODY, **change},
                                               format="json")
    assert list(_fields(answer)) == [field]
    assert not Webhook.objects.exists()


def test_every_bad_field_is_named_at_once(project_with_roles, client_for):
    project, users = project_with_roles
    answer = client_for(users["manager"]).post(_base(project), {
        "url": "gopher://x", "secret": "short", "events": ["nope"]}, format="json")
    assert set(_fields(answer)) == {"url", "secret", "events"}
    missing = client_for(users["manager"]).post(_base(project), {}, format="json")
    assert set(_fields(missing)) == {"url", "secret", "events"}


def test_private_destinations_are_refused_where_they_are_not_allowed(
        project_with_roles, client_for, settings):
    project, users = project_with_roles
    client = client_for(users["manager"])
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    for url in ("http://127.0.0.1:8000/hook", "http://169.254.169.254/latest/meta-data/",
                "http://localhost/hook", "http://[::1]/"):
        assert "url" in _fields(client.post(_base(project), {**BODY, "url": url},
                                            format="json")), url
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True  # the local profile
    assert client.post(_base(project), {**BODY, "url": "http://127.0.0.1:8000/hook"},
                       format="json").status_code == 201


def test_the_delivery_log_is_paginated_newest_first(project_with_roles, client_for):
    project, users = project_with_roles
    hook = Webhook.objects.create(project=project, url=URL, secret=SECRET,
                                  events=["snapshot.ready"])
    rows = WebhookDelivery.objects.bulk_create([
        WebhookDelivery(webhook=hook, event="snapshot.ready", payload={"n": n}, attempts=n,
                        response_status=500, error=f"HTTP 500 #{n}") for n in range(5)])
    client = client_for(users["manager"])
    page = client.get(f"{_base(project)}{hook.pk}/deliveries/?page_size=2").json()
    assert page["count"] == 5 and page["next"]
    newest = page["results"][0]
    assert newest["id"] == rows[-1].pk and newest["payload"] == {"n": 4}
    assert {"event", "status", "attempts", "response_status", "error", "created_at",
            "delivered_at", "next_attempt_at", "payload"} <= set(newest)
    assert (newest["status"], newest["attempts"], newest["response_status"]) == (
        "pending", 4, 500)
    rest = client.get(page["next"]).json()["results"]
    assert [r["id"] for r in rest] == [rows[2].pk, rows[1].pk]


def test_the_test_button_sends_a_ping(project_with_roles, client_for, receiver,
                                      django_capture_on_commit_callbacks):
    from annotation.webhooks import signing

    project, users = project_with_roles
    server = receiver(200)
    hook = Webhook.objects.create(project=project, url=server.url(), secret=SECRET,
                                  events=["model.published"])
    client = client_for(users["manager"])
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(f"{_base(project)}{hook.pk}/test/")
    assert answer.status_code == 202
    (got,) = server.received
    assert got.headers["X-Rankwise-Event"] == "ping"
    assert got.headers["X-Rankwise-Delivery"] == str(answer.json()["delivery"])
    assert signing.verify(SECRET, got.body, got.headers["X-Rankwise-Signature"])
    (logged,) = client.get(f"{_base(project)}{hook.pk}/deliveries/").json()["results"]
    assert (logged["event"], logged["status"], logged["response_status"]) == (
        "ping", "delivered", 200)
