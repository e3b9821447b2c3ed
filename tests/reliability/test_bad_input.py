"""Bad input is a 400 naming what is wrong, never a 500: deeply nested JSON on every JSON
endpoint, text the database cannot store (NUL, lone surrogates) in every text field, and a
guideline version that is not an integer."""

from __future__ import annotations

import pytest

from annotation.models import Acknowledgement, Guideline, Item, Project

from .conftest import error_body, fill, methods_of, routes, with_params

DEEP_BODIES = {"arrays": "[" * 100_000, "objects": '{"a":' * 100_000}
NUL = "\\u0000"  # the JSON escapes, as a client sends them
SURROGATE = "\\ud800"


def raw(client, method: str, url: str, body: str, **headers):
    return getattr(client, method)(url, body, content_type="application/json", **headers)


def ranking(task) -> str:
    return str([[r["id"]] for r in task.responses])


def values(world) -> dict:
    return {"pk": world["project"].pk, "member_id": world["project"].memberships.first().pk,
            "job": world["job"].pk}


# --- nesting --------------------------------------------------------------------------

@pytest.mark.parametrize("shape", DEEP_BODIES)
def test_deeply_nested_json_is_a_400_on_the_token_endpoint(api_client, db, shape):
    error_body(raw(api_client, "post", "/api/v1/auth/token/", DEEP_BODIES[shape]), 400)


@pytest.mark.parametrize("shape", DEEP_BODIES)
def test_deeply_nested_json_is_never_a_500_on_any_endpoint(world, client_for, shape):
    """Staff act as managers everywhere, so each endpoint gets as far as reading its body."""
    client = client_for(world["users"]["staff"])
    ids = values(world)
    assignment = world["task"].assignment.pk
    tried = 0
    for route, view in routes("api/"):
        params = {name: ids.get(name, assignment) for name in with_params(route)}
        if route.startswith("api/v1/assignments/"):
            params["pk"] = assignment
        for method in methods_of(view):
            if method in ("get", "delete"):
                continue
            answer = raw(client, method, fill(route, params), DEEP_BODIES[shape])
            assert answer.status_code < 500, (method, route, answer.content[:300])
            error_body(answer, answer.status_code)
            tried += 1
    assert tried >= 10


@pytest.mark.parametrize("shape", DEEP_BODIES)
def test_deeply_nested_json_names_the_problem(world, client_for, shape):
    client = client_for(world["users"]["manager"])
    body = error_body(raw(client, "post", "/api/v1/projects/", DEEP_BODIES[shape]), 400)
    assert "nested too deeply" in body["detail"]
    annotator = client_for(world["users"]["annotator"])
    url = f"/api/v1/assignments/{world['task'].assignment.pk}/submit/"
    error_body(raw(annotator, "post", url, DEEP_BODIES[shape]), 400)


# --- text the database cannot store ------------------------------------------------------

@pytest.mark.parametrize("bad", [NUL, SURROGATE, f"ok{SURROGATE}ok", "\\udfff"])
def test_submit_refuses_unstorable_rationale(world, client_for, bad):
    client = client_for(world["users"]["annotator"])
    task = world["task"]
    body = f'{{"ranking": {ranking(task)}, "rationale": "{bad}"}}'
    answer = raw(client, "post", f"/api/v1/assignments/{task.assignment.pk}/submit/", body)
    error_body(answer, 400, field="rationale")
    assert not task.item.annotations.exists()
    # A surrogate pair is one real character, and stored.
    good = f'{{"ranking": {ranking(task)}, "rationale": "\\ud83d\\ude00"}}'
    answer = raw(client, "post", f"/api/v1/assignments/{task.assignment.pk}/submit/", good)
    assert answer.status_code == 201, answer.content
    assert task.item.annotations.get().rationale == "\U0001F600"


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
def test_skip_refuses_unstorable_reason(world, client_for, bad):
    client = client_for(world["users"]["annotator"])
    assignment = world["task"].assignment
    answer = raw(client, "post", f"/api/v1/assignments/{assignment.pk}/skip/",
                 f'{{"reason": "too long {bad}"}}')
    error_body(answer, 400, field="reason")
    assignment.refresh_from_db()
    assert assignment.status == "leased"


def test_the_services_refuse_it_too(world):
    from annotation.assignment import services as engine
    from annotation.assignment.validation import InvalidSubmission, check_submission
    from rankwise.errors import ValidationFailed

    with pytest.raises(InvalidSubmission) as caught:
        check_submission(ranking=[[1], [2]], response_ids=[1, 2], rationale="a\x00b")
    assert caught.value.errors == [{"field": "rationale", "message": (
        "rationale contains a NUL character (\\u0000), which cannot be stored.")}]
    with pytest.raises(ValidationFailed) as refused:
        engine.skip_assignment(assignment_id=world["task"].assignment.pk,
                               annotator=world["users"]["annotator"], reason="\ud800")
    assert refused.value.errors[0]["field"] == "reason"


def test_idempotency_key_with_a_nul_is_a_400(world, client_for):
    client = client_for(world["users"]["annotator"])
    task = world["task"]
    answer = raw(client, "post", f"/api/v1/assignments/{task.assignment.pk}/submit/",
                 f'{{"ranking": {ranking(task)}}}', HTTP_IDEMPOTENCY_KEY="a\x00b")
    error_body(answer, 400, field="Idempotency-Key")


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
@pytest.mark.parametrize("method,path,template,field", [
    ("post", "projects/", '{{"name": "x{bad}", "responses_per_item": 2}}', "name"),
    ("post", "projects/", '{{"name": "x", "description": "{bad}", "responses_per_item": 2}}',
     "description"),
    ("post", "projects/", '{{"name": "x", "responses_per_item": 2, "settings": '
     '{{"flags": ["{bad}"]}}}}', "settings"),
    ("patch", "projects/{pk}/", '{{"name": "{bad}"}}', "name"),
    ("patch", "projects/{pk}/", '{{"settings": {{"{bad}": 1}}}}', "settings"),
    ("post", "projects/{pk}/guidelines/", '{{"text": "rule {bad}"}}', "text"),
    ("post", "projects/{pk}/members/", '{{"user": "{bad}", "role": "annotator"}}', "user"),
    ("post", "users/", '{{"username": "x{bad}", "password": "long-enough-passw0rd"}}',
     "username"),
    ("post", "users/", '{{"username": "newbie", "password": "long-enough-{bad}"}}',
     "password"),
])
def test_text_fields_refuse_unstorable_text(world, client_for, bad, method, path, template,
                                            field):
    project = world["project"]
    before = (Project.objects.count(), Guideline.objects.count(), project.name)
    client = client_for(world["users"]["manager"])
    url = "/api/v1/" + path.format(pk=project.pk)
    error_body(raw(client, method, url, template.format(bad=bad)), 400, field=field)
    project.refresh_from_db()
    assert (Project.objects.count(), Guideline.objects.count(), project.name) == before


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
def test_token_endpoint_refuses_unstorable_credentials(api_client, db, bad):
    answer = raw(api_client, "post", "/api/v1/auth/token/",
                 f'{{"username": "a{bad}", "password": "x"}}')
    error_body(answer, 400, field="username")


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
def test_an_import_line_with_unstorable_text_is_a_line_error(world, client_for, bad):
    client = client_for(world["users"]["manager"])
    good = '{"prompt": "p", "responses": ["a", "b"]}'
    line = f'{{"prompt": "p{bad}", "responses": ["a", "b"]}}'
    answer = client.post(f"/api/v1/projects/{world['project'].pk}/items/import/",
                         f"{good}\n{line}\n".encode(), content_type="application/x-ndjson")
    body = error_body(answer, 400, line=2)
    assert [error["line"] for error in body["errors"]] == [2]
    assert Item.objects.filter(project=world["project"]).count() == 2


# --- guideline versions -----------------------------------------------------------------

@pytest.mark.parametrize("version", ['[1]', '"1"', '"one"', "true", "1.5", "1.0", "null",
                                     '{"v": 1}', "0", "-1", str(2**70)])
def test_acknowledging_a_version_that_is_no_integer_is_a_400(world, client_for, version):
    project, annotator = world["project"], world["users"]["annotator"]
    Acknowledgement.objects.filter(user=annotator).delete()
    client = client_for(annotator)
    answer = raw(client, "post", f"/api/v1/projects/{project.pk}/guidelines/acknowledge/",
                 f'{{"version": {version}}}')
    error_body(answer, 400, field="version")
    assert not Acknowledgement.objects.filter(user=annotator).exists()


def test_acknowledging_the_current_version_or_none_works(world, client_for):
    project, annotator = world["project"], world["users"]["annotator"]
    Acknowledgement.objects.filter(user=annotator).delete()
    client = client_for(annotator)
    url = f"/api/v1/projects/{project.pk}/guidelines/acknowledge/"
    assert raw(client, "post", url, '{"version": 1}').json() == {"version": 1}
    assert Acknowledgement.objects.filter(user=annotator).count() == 1
    assert raw(client, "post", url, "{}").json() == {"version": 1}
    assert Acknowledgement.objects.filter(user=annotator).count() == 1


def test_acknowledging_an_old_version_is_a_conflict_naming_the_current(world, client_for):
    from annotation import services

    project, annotator = world["project"], world["users"]["annotator"]
    services.publish_guideline(actor=world["users"]["manager"], project=project, text="v2")
    client = client_for(annotator)
    url = f"/api/v1/projects/{project.pk}/guidelines/acknowledge/"
    body = error_body(raw(client, "post", url, '{"version": 1}'), 409, field="version")
    assert body["code"] == "guideline_outdated"
    assert body["current_version"] == 2
    assert not Acknowledgement.objects.filter(user=annotator, guideline__version=2).exists()
    body = error_body(raw(client, "post", url, '{"version": 7}'), 400, field="version")
    assert "no guideline version 7" in body["detail"]
    assert raw(client, "post", url, '{"version": 2}').json() == {"version": 2}


def test_acknowledging_without_a_guideline_is_a_404(project_with_roles, client_for):
    project, users = project_with_roles
    answer = client_for(users["annotator"]).post(
        f"/api/v1/projects/{project.pk}/guidelines/acknowledge/", {}, format="json")
    assert error_body(answer, 404)["code"] == "no_guideline"


def test_a_body_that_is_no_object_is_a_400(world, client_for):
    client = client_for(world["users"]["annotator"])
    url = f"/api/v1/projects/{world['project'].pk}/guidelines/acknowledge/"
    error_body(raw(client, "post", url, "[1, 2]"), 400)
