"""Submitting a ranking: validation, idempotency, ownership, what gets recorded."""

from __future__ import annotations

import pytest

from annotation import services as project_services
from annotation.models import Annotation, Assignment, Item

from .conftest import add_items, ranking_for


@pytest.fixture
def leased(make_project, make_annotators, client_for):
    """A K=3 project and one annotator holding a task."""

    def make(k: int = 3, **settings):
        project = make_project(responses_per_item=k, overlap=2, settings=settings)
        add_items(project, 2)
        (user,) = make_annotators(project, 1)
        client = client_for(user)
        task = client.get(f"/api/v1/projects/{project.pk}/next/").json()
        return project, user, client, task

    return make


def _submit(client, task, body, **headers):
    return client.post(f"/api/v1/assignments/{task['assignment']}/submit/", body,
                       format="json", headers=headers)


def test_submit_records_everything_and_closes_the_assignment(leased):
    project, user, client, task = leased(k=2)
    guideline = project_services.publish_guideline(actor=project.created_by, project=project,
                                                   text="Be fair.")
    project_services.acknowledge_guideline(user=user, guideline=guideline)
    best, worst = (r["id"] for r in task["item"]["responses"])
    answer = _submit(client, task, {"ranking": [[best], [worst]], "strength": 3,
                                    "flags": ["unsure"], "rationale": "clearer",
                                    "duration_ms": 4200})
    assert answer.status_code == 201, answer.content
    body = answer.json()
    annotation = Annotation.objects.get(pk=body["annotation"])
    assert body["feedback_url"] == f"/api/v1/assignments/{task['assignment']}/feedback/"
    assert (annotation.ranking, annotation.strength, annotation.flags, annotation.rationale,
            annotation.duration_ms, annotation.guideline_version, annotation.source) == (
        [[best], [worst]], 3, ["unsure"], "clearer", 4200, 1, "human")
    assert annotation.annotator == user and annotation.assignment_id == task["assignment"]
    assignment = Assignment.objects.get(pk=task["assignment"])
    assert assignment.status == "submitted" and assignment.finished_at is not None
    item = Item.objects.get(pk=task["item"]["id"])
    assert (item.annotations_done, item.leases_live) == (1, 0)


def test_ties_are_tiers(leased):
    _project, _user, client, task = leased(k=3)
    a, b, c = (r["id"] for r in task["item"]["responses"])
    answer = _submit(client, task, {"ranking": [[b, a], [c]]})
    assert answer.status_code == 201
    assert Annotation.objects.get(pk=answer.json()["annotation"]).ranking == [[b, a], [c]]


INVALID = [
    ("ranking", lambda ids: {}, "ranking must be a non-empty list"),
    ("ranking", lambda ids: {"ranking": []}, "ranking must be a non-empty list"),
    ("ranking", lambda ids: {"ranking": "1,2,3"}, "ranking must be a non-empty list"),
    ("ranking", lambda ids: {"ranking": [ids[0], ids[1], ids[2]]}, "ranking[0] must be a list"),
    ("ranking", lambda ids: {"ranking": [[ids[0]], [], [ids[1], ids[2]]]}, "ranking[1] is an empty tier"),
    ("ranking", lambda ids: {"ranking": [[ids[0]], [ids[1]]]}, lambda ids: f"response(s) {ids[2]} missing"),
    ("ranking", lambda ids: {"ranking": [[ids[0]], [ids[1], ids[2]], [ids[0]]]}, lambda ids: f"response {ids[0]} appears more than once"),
    ("ranking", lambda ids: {"ranking": [[ids[0], ids[1], ids[2], 999999]]}, "response 999999 is not one of this item's responses"),
    ("ranking", lambda ids: {"ranking": [[ids[0], ids[1], str(ids[2])]]}, "ranking[0][2] must be a response id"),
    ("ranking", lambda ids: {"ranking": [[ids[0], ids[1], True]]}, "ranking[0][2] must be a response id"),
    ("strength", lambda ids: {"ranking": [[i] for i in ids], "strength": 2}, "strength is only for items with two responses"),
    ("flags", lambda ids: {"ranking": [[i] for i in ids], "flags": ["spam"]}, "unknown flag 'spam'"),
    ("flags", lambda ids: {"ranking": [[i] for i in ids], "flags": "harmful"}, "flags must be a list of strings"),
    ("rationale", lambda ids: {"ranking": [[i] for i in ids], "rationale": "x" * 5001}, "rationale is 5001 characters; at most 5000"),
    ("rationale", lambda ids: {"ranking": [[i] for i in ids], "rationale": 5}, "rationale must be a string"),
    ("duration_ms", lambda ids: {"ranking": [[i] for i in ids], "duration_ms": -1}, "duration_ms must be a whole number"),
    ("duration_ms", lambda ids: {"ranking": [[i] for i in ids], "duration_ms": 1.5}, "duration_ms must be a whole number"),
    ("duration_ms", lambda ids: {"ranking": [[i] for i in ids], "duration_ms": 2**40}, "duration_ms must be a whole number"),
]


@pytest.mark.parametrize(("field", "body", "message"), INVALID,
                         ids=[f"{f}-{i}" for i, (f, _b, _m) in enumerate(INVALID)])
def test_invalid_submissions_get_400_naming_the_problem(leased, field, body, message):
    _project, _user, client, task = leased(k=3)
    ids = sorted(r["id"] for r in task["item"]["responses"])
    answer = _submit(client, task, body(ids))
    if callable(message):
        message = message(ids)
    assert answer.status_code == 400, answer.content
    data = answer.json()
    assert data["detail"].startswith(f"{field}: ")
    assert any(e["field"] == field and message in e["message"] for e in data["errors"]), data
    assert not Annotation.objects.exists()
    assert Assignment.objects.get(pk=task["assignment"]).status == "leased"


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"strength": 4}, "strength", "strength must be 1, 2 or 3"),
    ({"strength": 0}, "strength", "strength must be 1, 2 or 3"),
    ({"strength": "3"}, "strength", "strength must be 1, 2 or 3"),
    ({"strength": 2, "tie": True}, "strength", "strength cannot go with a tie"),
])
def test_strength_rules_for_two_responses(leased, body, field, message):
    _project, _user, client, task = leased(k=2)
    a, b = (r["id"] for r in task["item"]["responses"])
    ranking = [[a, b]] if body.pop("tie", False) else [[a], [b]]
    answer = _submit(client, task, {"ranking": ranking, **body})
    assert answer.status_code == 400
    assert {"field": field, "message": answer.json()["errors"][0]["message"]} in answer.json()["errors"]
    assert message in answer.json()["errors"][0]["message"]


def test_several_problems_are_all_named(leased):
    _project, _user, client, task = leased(k=3)
    answer = _submit(client, task, {"ranking": [[]], "flags": ["nope"], "duration_ms": -5})
    fields = [e["field"] for e in answer.json()["errors"]]
    assert answer.status_code == 400
    assert fields == ["ranking", "flags", "duration_ms"]


def test_non_object_body_is_400(leased):
    _project, _user, client, task = leased(k=2)
    answer = _submit(client, task, [1, 2])
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "body"


def test_project_flags_replace_the_default_list(leased):
    _project, _user, client, task = leased(k=2, flags=["toxic", "off_topic"])
    assert task["project"]["flags"] == ["toxic", "off_topic"]
    ranking = ranking_for(task)
    assert _submit(client, task, {"ranking": ranking, "flags": ["harmful"]}).status_code == 400
    answer = _submit(client, task, {"ranking": ranking, "flags": ["toxic", "toxic"]})
    assert answer.status_code == 201
    assert Annotation.objects.get().flags == ["toxic"]


def test_same_body_again_returns_the_same_annotation(leased):
    _project, _user, client, task = leased(k=3)
    body = {"ranking": ranking_for(task), "flags": ["other"], "rationale": "r", "duration_ms": 5}
    first = _submit(client, task, body)
    assert first.status_code == 201
    again = _submit(client, task, {**body, "duration_ms": 9,
                                   "ranking": [sorted(t) for t in body["ranking"]]})
    assert again.status_code == 200
    assert again.json()["annotation"] == first.json()["annotation"]
    assert again.json()["created"] is False
    assert Annotation.objects.count() == 1
    assert Item.objects.get(pk=task["item"]["id"]).annotations_done == 1


def test_a_different_body_for_a_submitted_task_is_a_conflict(leased):
    _project, _user, client, task = leased(k=3)
    ranking = ranking_for(task)
    first = _submit(client, task, {"ranking": ranking})
    changed = _submit(client, task, {"ranking": list(reversed(ranking))})
    assert changed.status_code == 409
    assert changed.json()["code"] == "already_submitted"
    assert changed.json()["annotation"] == first.json()["annotation"]
    assert Annotation.objects.count() == 1


def test_same_idempotency_key_returns_the_same_annotation(leased):
    _project, _user, client, task = leased(k=3)
    ranking = ranking_for(task)
    first = _submit(client, task, {"ranking": ranking}, **{"Idempotency-Key": "k-1"})
    # A retry with the same key is the same request, whatever its body says.
    again = _submit(client, task, {"ranking": list(reversed(ranking))},
                    **{"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["annotation"] == first.json()["annotation"]
    assert Annotation.objects.get().idempotency_key == "k-1"
    assert Annotation.objects.count() == 1


def test_idempotency_key_reused_for_another_assignment_is_a_conflict(leased):
    project, _user, client, task = leased(k=2)
    assert _submit(client, task, {"ranking": ranking_for(task)},
                   **{"Idempotency-Key": "same"}).status_code == 201
    second = client.get(f"/api/v1/projects/{project.pk}/next/").json()
    answer = _submit(client, second, {"ranking": ranking_for(second)},
                     **{"Idempotency-Key": "same"})
    assert answer.status_code == 409
    assert answer.json()["code"] == "idempotency_key_reused"
    assert Annotation.objects.count() == 1
    assignment = Assignment.objects.get(pk=second["assignment"])
    assert assignment.status == "leased"
    assert Item.objects.get(pk=second["item"]["id"]).leases_live == 1


def test_too_long_idempotency_key_is_400(leased):
    _project, _user, client, task = leased(k=2)
    answer = _submit(client, task, {"ranking": ranking_for(task)},
                     **{"Idempotency-Key": "k" * 129})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "Idempotency-Key"


def test_only_the_lease_owner_may_submit_or_skip(leased, make_user, client_for):
    project, _user, _client, task = leased(k=2)
    other = make_user("someone")
    project_services.set_membership(actor=project.created_by, project=project, user=other,
                                    role="annotator")
    for who in (client_for(other), client_for(project.created_by), client_for(make_user("x"))):
        answer = _submit(who, task, {"ranking": ranking_for(task)})
        assert answer.status_code == 404
        assert answer.json() == {"detail": "No such assignment.", "errors": []}
        skip = who.post(f"/api/v1/assignments/{task['assignment']}/skip/", {}, format="json")
        assert skip.status_code == 404
    assert client_for(None).post(f"/api/v1/assignments/{task['assignment']}/submit/",
                                 {"ranking": ranking_for(task)}, format="json").status_code in (401, 403)
    assert not Annotation.objects.exists()


def test_unknown_assignment_is_404(leased):
    _project, _user, client, _task = leased(k=2)
    answer = client.post("/api/v1/assignments/987654/submit/", {"ranking": [[1], [2]]},
                         format="json")
    assert answer.status_code == 404


def test_skip_after_submit_is_a_conflict(leased):
    _project, _user, client, task = leased(k=2)
    _submit(client, task, {"ranking": ranking_for(task)})
    answer = client.post(f"/api/v1/assignments/{task['assignment']}/skip/", {"reason": "x"},
                         format="json")
    assert answer.status_code == 409


def test_skip_reason_must_be_a_short_string(leased):
    _project, _user, client, task = leased(k=2)
    url = f"/api/v1/assignments/{task['assignment']}/skip/"
    assert client.post(url, {"reason": 3}, format="json").status_code == 400
    assert client.post(url, {"reason": "x" * 2001}, format="json").status_code == 400
    assert client.post(url, {}, format="json").status_code == 200


def test_submit_records_the_guideline_version_current_at_submit(leased):
    project, user, client, task = leased(k=2)
    for text in ("v1", "v2"):
        guideline = project_services.publish_guideline(actor=project.created_by,
                                                       project=project, text=text)
    answer = _submit(client, task, {"ranking": ranking_for(task)})
    assert answer.status_code == 201
    assert Annotation.objects.get().guideline_version == guideline.version == 2
