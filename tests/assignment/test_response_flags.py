"""Flags on single responses: ``flags`` as an object, stored as Annotation.response_flags."""

from __future__ import annotations

import pytest

from annotation.models import Annotation

from .conftest import add_items, ranking_for


@pytest.fixture
def leased(make_project, make_annotators, client_for):
    project = make_project(responses_per_item=3, overlap=2)
    add_items(project, 2)
    (user,) = make_annotators(project, 1)
    client = client_for(user)
    task = client.get(f"/api/v1/projects/{project.pk}/next/").json()
    return project, user, client, task


def _submit(client, task, body):
    return client.post(task["submit_url"], body, format="json")


def test_flags_as_an_object_flag_the_task_and_single_responses(leased):
    _project, _user, client, task = leased
    a, b, _c = (r["id"] for r in task["item"]["responses"])
    answer = _submit(client, task, {"ranking": ranking_for(task), "flags": {
        "task": ["unsure"], str(a): ["harmful", "harmful"], str(b): ["factually_wrong"]}})
    assert answer.status_code == 201, answer.content
    label = Annotation.objects.get(pk=answer.json()["annotation"])
    assert label.flags == ["unsure"]
    assert label.response_flags == {str(a): ["harmful"], str(b): ["factually_wrong"]}


def test_a_list_still_flags_the_task_only(leased):
    _project, _user, client, task = leased
    answer = _submit(client, task, {"ranking": ranking_for(task), "flags": ["other"]})
    label = Annotation.objects.get(pk=answer.json()["annotation"])
    assert (label.flags, label.response_flags) == (["other"], {})


@pytest.mark.parametrize(("flags", "message"), [
    ({"999999": ["harmful"]}, "'999999' is not one of this item's response ids"),
    ({"first": ["harmful"]}, "'first' is not one of this item's response ids"),
    ({"task": "harmful"}, "flags.task must be a list of strings"),
    ({"task": ["spam"]}, "unknown flag 'spam' in flags.task"),
    ("harmful", "flags must be a list of strings, or an object"),
])
def test_bad_flags_are_400_naming_flags(leased, flags, message):
    _project, _user, client, task = leased
    answer = _submit(client, task, {"ranking": ranking_for(task), "flags": flags})
    assert answer.status_code == 400, answer.content
    errors = answer.json()["errors"]
    assert any(e["field"] == "flags" and message in e["message"] for e in errors), errors
    assert not Annotation.objects.exists()


def test_bad_flag_on_a_response(leased):
    _project, _user, client, task = leased
    rid = task["item"]["responses"][0]["id"]
    answer = _submit(client, task, {"ranking": ranking_for(task), "flags": {str(rid): ["x"]}})
    assert answer.status_code == 400
    assert f"unknown flag 'x' in flags[{rid}]" in answer.json()["errors"][0]["message"]


def test_a_repeat_must_name_the_same_response_flags(leased):
    _project, _user, client, task = leased
    a, b, _c = (r["id"] for r in task["item"]["responses"])
    body = {"ranking": ranking_for(task), "flags": {"task": ["other"], str(a): ["harmful"]}}
    first = _submit(client, task, body)
    assert first.status_code == 201
    again = _submit(client, task, {"ranking": ranking_for(task),
                                   "flags": {str(a): ["harmful"], "task": ["other"], str(b): []}})
    assert (again.status_code, again.json()["annotation"]) == (200, first.json()["annotation"])
    changed = _submit(client, task, {"ranking": ranking_for(task),
                                     "flags": {"task": ["other"], str(b): ["harmful"]}})
    assert changed.status_code == 409
    as_list = _submit(client, task, {"ranking": ranking_for(task), "flags": ["other"]})
    assert as_list.status_code == 409
    assert Annotation.objects.count() == 1


def test_a_revision_changes_response_flags(leased):
    _project, _user, client, task = leased
    a = task["item"]["responses"][0]["id"]
    first = _submit(client, task, {"ranking": ranking_for(task)}).json()["annotation"]
    answer = client.post(f"/api/v1/annotations/{first}/revise/", {
        "ranking": ranking_for(task), "flags": {str(a): ["refusal"]}}, format="json")
    assert answer.status_code == 201, answer.content
    assert Annotation.objects.get(pk=answer.json()["annotation"]).response_flags == {
        str(a): ["refusal"]}
    again = client.post(f"/api/v1/annotations/{first}/revise/", {
        "ranking": ranking_for(task), "flags": {str(a): ["refusal"]}}, format="json")
    assert (again.status_code, again.json()["annotation"]) == (200, answer.json()["annotation"])


def test_reviewers_see_response_flags_on_the_item(leased, make_annotators, client_for):
    project, _user, client, task = leased
    a = task["item"]["responses"][0]["id"]
    _submit(client, task, {"ranking": ranking_for(task), "flags": {str(a): ["harmful"]}})
    (reviewer,) = make_annotators(project, 1, prefix="rev", role="reviewer")
    detail = client_for(reviewer).get(f"/api/v1/items/{task['item']['id']}/").json()
    (label,) = [entry for entry in detail["labels"]]
    assert label["response_flags"] == {str(a): ["harmful"]}
    assert label["superseded"] is False


def test_the_annotations_export_carries_response_flags(leased):
    from annotation.exports.dataset import export_rows
    from annotation.exports.params import parse_params

    project, _user, client, task = leased
    a, b, _c = (r["id"] for r in task["item"]["responses"])
    _submit(client, task, {"ranking": ranking_for(task),
                           "flags": {str(b): ["refusal"], str(a): ["harmful", "other"]}})
    (row,) = export_rows(project=project, params=parse_params({"format": "annotations"}))
    assert row["response_flags"] == sorted([
        {"response_id": a, "flags": ["harmful", "other"]},
        {"response_id": b, "flags": ["refusal"]}], key=lambda entry: entry["response_id"])
