"""Every foundation endpoint, for every role and for anonymous users.

Non-members get 404 (a project's existence is not leaked), members whose role is too low
get 403, anonymous callers 401."""

import pytest

from annotation.models import Guideline, Item, Membership, Project, Response

ROLES = ["anonymous", "outsider", "annotator", "reviewer", "manager", "staff"]


def call(client_for, users, role, method, url, data=None):
    client = client_for(None if role == "anonymous" else users[role])
    return getattr(client, method)(url, data, format="json")


def expected(role, allowed_from):
    """Status for a role when the endpoint needs at least `allowed_from` in the project."""
    order = ["annotator", "reviewer", "manager"]
    if role == "anonymous":
        return 401
    if role == "outsider":
        return 404
    if role == "staff":
        return "ok"
    return "ok" if order.index(role) >= order.index(allowed_from) else 403


@pytest.fixture
def setup(project_with_roles):
    project, users = project_with_roles
    item = Item.objects.create(project=project, prompt="p", content_hash="x", is_gold=True,
                               gold_ranking=[[1], [2]])
    Response.objects.create(item=item, position=0, text="a")
    Response.objects.create(item=item, position=1, text="b")
    Guideline.objects.create(project=project, version=1, text="Be kind.")
    return project, users


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "method,path,data,allowed_from,ok_status",
    [
        ("get", "", None, "annotator", 200),
        ("patch", "", {"overlap": 4}, "manager", 200),
        ("get", "members/", None, "reviewer", 200),
        ("post", "members/", {"user": "outsider2", "role": "annotator"}, "manager", 201),
        ("get", "guidelines/", None, "annotator", 200),
        ("post", "guidelines/", {"text": "v2"}, "manager", 201),
        ("post", "guidelines/acknowledge/", {}, "annotator", 200),
        ("get", "items/", None, "reviewer", 200),
    ],
)
def test_project_endpoints(setup, client_for, make_user, role, method, path, data,
                           allowed_from, ok_status):
    project, users = setup
    make_user("outsider2")
    response = call(client_for, users, role, method, f"/api/v1/projects/{project.pk}/{path}", data)
    want = expected(role, allowed_from)
    assert response.status_code == (ok_status if want == "ok" else want), response.content
    if want != "ok":
        body = response.json()
        assert set(body) == {"detail", "errors"}


@pytest.mark.parametrize("role", ROLES)
def test_project_list_shows_only_own_projects(setup, client_for, role):
    project, users = setup
    Project.objects.create(name="someone else's")
    response = call(client_for, users, role, "get", "/api/v1/projects/")
    if role == "anonymous":
        assert response.status_code == 401
        return
    names = {p["name"] for p in response.json()["results"]}
    if role == "staff":
        assert names == {project.name, "someone else's"}
    elif role == "outsider":
        assert names == set()
    else:
        assert names == {project.name}


@pytest.mark.parametrize("role,status", [("anonymous", 401), ("outsider", 403),
                                          ("annotator", 403), ("reviewer", 403),
                                          ("manager", 201), ("staff", 201)])
def test_create_project(setup, client_for, role, status):
    project, users = setup
    body = {"name": "New", "responses_per_item": 3, "overlap": 2, "gold_rate": 0.1}
    response = call(client_for, users, role, "post", "/api/v1/projects/", body)
    assert response.status_code == status, response.content
    if status == 201:
        created = Project.objects.get(pk=response.json()["id"])
        assert created.responses_per_item == 3
        # The creator manages the new project.
        assert created.memberships.get(user=users[role]).role == Membership.Role.MANAGER


@pytest.mark.parametrize("role,status", [("anonymous", 401), ("outsider", 403),
                                          ("annotator", 403), ("reviewer", 403),
                                          ("manager", 201), ("staff", 201)])
def test_create_user(setup, client_for, role, status):
    project, users = setup
    body = {"username": f"new-{role}", "password": "a-long-enough-passphrase"}
    response = call(client_for, users, role, "post", "/api/v1/users/", body)
    assert response.status_code == status, response.content
    if status == 201:
        assert response.json()["username"] == f"new-{role}"
        assert set(response.json()) == {"id", "username"}


@pytest.mark.parametrize("role", ROLES)
def test_remove_member(setup, client_for, role):
    project, users = setup
    target = Membership.objects.get(project=project, user=users["annotator"])
    response = call(client_for, users, role, "delete",
                    f"/api/v1/projects/{project.pk}/members/{target.pk}/")
    want = expected(role, "manager")
    assert response.status_code == (204 if want == "ok" else want)


def test_bad_input_gets_400_with_field(setup, client_for):
    project, users = setup
    client = client_for(users["manager"])
    response = client.post("/api/v1/projects/", {"name": "x", "responses_per_item": 12},
                           format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "responses_per_item"
    response = client.post("/api/v1/users/", {"username": "weak", "password": "123"},
                           format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "password"
    response = client.post(f"/api/v1/projects/{project.pk}/members/",
                           {"user": "nobody", "role": "annotator"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "user", "message": "No user 'nobody'."}]
    response = client.post(f"/api/v1/projects/{project.pk}/members/",
                           {"user": "outsider", "role": "boss"}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "role"


def test_k_is_frozen_once_items_exist(setup, client_for):
    project, users = setup
    response = client_for(users["manager"]).patch(
        f"/api/v1/projects/{project.pk}/", {"responses_per_item": 3}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "responses_per_item"


def test_guideline_versions_and_acknowledgement(setup, client_for):
    project, users = setup
    manager, annotator = client_for(users["manager"]), client_for(users["annotator"])
    url = f"/api/v1/projects/{project.pk}/guidelines/"
    assert manager.post(url, {"text": "# Rules\nPrefer honest answers."}, format="json").json() \
        == {"version": 2}
    current = annotator.get(url).json()
    assert current["version"] == 2 and current["acknowledged"] is False
    assert annotator.post(url + "acknowledge/", {}, format="json").json() == {"version": 2}
    assert annotator.get(url).json()["acknowledged"] is True
    manager.post(url, {"text": "v3"}, format="json")
    assert annotator.get(url).json()["acknowledged"] is False  # a new version asks again


def test_items_listing_shows_status_and_counts(setup, client_for):
    project, users = setup
    response = client_for(users["reviewer"]).get(f"/api/v1/projects/{project.pk}/items/")
    row = response.json()["results"][0]
    assert row["status"] == "pending" and row["annotations_done"] == 0
    assert [r["text"] for r in row["responses"]] == ["a", "b"]
    filtered = client_for(users["reviewer"]).get(
        f"/api/v1/projects/{project.pk}/items/?status=done")
    assert filtered.json()["count"] == 0


def test_audit_log_records_writes(setup, client_for):
    project, users = setup
    client_for(users["manager"]).patch(f"/api/v1/projects/{project.pk}/", {"overlap": 5},
                                       format="json")
    entry = project.audit_log.filter(action="project.update").get()
    assert entry.actor == users["manager"] and entry.data == {"fields": ["overlap"]}
