"""Who may use the reward-model endpoints, and their answers without a trained model."""

from __future__ import annotations

import pytest

from annotation.assignment import services as engine
from training.models import TrainingRun

from .conftest import TOPICS, add_pairs

SCORE_BODY = {"prompt": "How do I make tea?", "responses": ["Boil water.", "No."]}


def _url(project, tail):
    return f"/api/v1/projects/{project.pk}/reward-models/{tail}"


@pytest.mark.parametrize("who,expected", [
    (None, 401), ("outsider", 404), ("annotator", 409), ("reviewer", 409), ("manager", 409),
    ("staff", 409),
])
def test_score_without_an_active_model(roles, client_for, who, expected):
    project, users = roles
    res = client_for(users.get(who)).post(_url(project, "score/"), SCORE_BODY, format="json")
    assert res.status_code == expected
    assert set(res.json()) == {"detail", "errors"}
    if expected == 409:
        assert "no active reward model" in res.json()["detail"]


@pytest.mark.parametrize("body,field", [
    ({"responses": ["a"]}, "prompt"),
    ({"prompt": "p", "messages": [{"role": "user", "content": "p"}], "responses": ["a"]}, "prompt"),
    ({"prompt": "p"}, "responses"),
    ({"prompt": "p", "responses": []}, "responses"),
    ({"prompt": "p", "responses": "not a list"}, "responses"),
    ({"prompt": "p", "responses": [1, {"x": 2}]}, "responses"),
    ({"messages": [{"role": "robot", "content": "x"}], "responses": ["a"]}, "messages"),
    ({"messages": [], "responses": ["a"]}, "messages"),
    ({"prompt": "p", "responses": ["a"] * 65}, "responses"),
])
def test_score_input_errors_name_the_field(roles, client_for, body, field):
    project, users = roles
    res = client_for(users["annotator"]).post(_url(project, "score/"), body, format="json")
    assert res.status_code == 400, res.content
    fields = [e.get("field", "") for e in res.json()["errors"]]
    assert any(f.startswith(field) for f in fields), fields


def test_score_body_must_be_an_object(roles, client_for):
    project, users = roles
    res = client_for(users["annotator"]).post(_url(project, "score/"), [1, 2], format="json")
    assert res.status_code == 400
    assert res.json()["errors"][0]["field"] == "body"


@pytest.mark.parametrize("who,expected", [
    (None, 401), ("outsider", 404), ("annotator", 403), ("reviewer", 200), ("manager", 200),
    ("staff", 200),
])
def test_list_reward_models_needs_reviewer(roles, client_for, who, expected):
    project, users = roles
    res = client_for(users.get(who)).get(_url(project, ""))
    assert res.status_code == expected
    if expected == 200:
        assert res.json()["results"] == []


@pytest.mark.parametrize("who,expected", [
    (None, 401), ("outsider", 404), ("annotator", 403), ("reviewer", 403), ("manager", 202),
    ("staff", 202),
])
def test_train_needs_manager(roles, client_for, who, expected):
    project, users = roles
    res = client_for(users.get(who)).post(_url(project, "train/"), {}, format="json")
    assert res.status_code == expected
    if expected == 202:
        body = res.json()
        assert body["id"] == body["run"]
        run = TrainingRun.objects.get(pk=body["run"])
        assert run.status == "queued" and run.triggered_by == "api"
        assert run.celery_task_id
    else:
        assert not TrainingRun.objects.exists()


def test_train_parameters_are_checked_and_recorded(roles, client_for):
    project, users = roles
    client = client_for(users["manager"])
    bad = client.post(_url(project, "train/"), {"mode": "huge", "epochs": 0, "colour": "red"},
                      format="json")
    assert bad.status_code == 400
    assert {e["field"] for e in bad.json()["errors"]} >= {"mode", "epochs"}
    unknown = client.post(_url(project, "train/"), {"colour": "red"}, format="json")
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "colour"
    ok = client.post(_url(project, "train/"), {"mode": "head", "epochs": 3, "force": True},
                     format="json")
    assert ok.status_code == 202
    assert TrainingRun.objects.get(pk=ok.json()["run"]).params == {
        "mode": "head", "epochs": 3, "force": True}
    again = client.post(_url(project, "train/"), {}, format="json")
    assert again.status_code == 409
    assert f"Run {ok.json()['run']}" in again.json()["detail"]


@pytest.mark.parametrize("who,expected", [
    (None, 401), ("outsider", 404), ("annotator", 403), ("reviewer", 200), ("manager", 200),
])
def test_training_run_is_visible_to_reviewers_of_its_project(roles, client_for, who, expected):
    project, users = roles
    run = TrainingRun.objects.create(project=project, loss_curve=[[0.5, 0.7], [1.0, 0.4]],
                                     progress=1.0, status="succeeded")
    res = client_for(users.get(who)).get(f"/api/v1/training-runs/{run.pk}/")
    assert res.status_code == expected
    if expected == 200:
        body = res.json()
        assert body["status"] == "succeeded" and body["progress"] == 1.0
        assert body["loss_curve"] == [[0.5, 0.7], [1.0, 0.4]]
        assert "metrics" in body


def test_unknown_training_run_is_404(roles, client_for):
    _, users = roles
    assert client_for(users["staff"]).get("/api/v1/training-runs/999999/").status_code == 404


def _submitted_assignment(project, annotator):
    add_pairs(project, TOPICS[:2])
    task = engine.next_task(project_id=project.pk, annotator=annotator)
    ranking = [[r["id"]] for r in task.responses]
    engine.submit_annotation(assignment_id=task.assignment.pk, annotator=annotator,
                             ranking=ranking)
    return task.assignment


def test_feedback_without_a_model_says_so(roles, client_for):
    project, users = roles
    assignment = _submitted_assignment(project, users["annotator"])
    res = client_for(users["annotator"]).get(f"/api/v1/assignments/{assignment.pk}/feedback/")
    assert res.status_code == 200
    assert res.json() == {"model_version": None, "responses": []}


@pytest.mark.parametrize("who,expected", [
    (None, 401), ("outsider", 404), ("reviewer", 404), ("manager", 404), ("staff", 404),
])
def test_feedback_is_only_for_the_assignments_annotator(roles, client_for, who, expected):
    project, users = roles
    assignment = _submitted_assignment(project, users["annotator"])
    res = client_for(users.get(who)).get(f"/api/v1/assignments/{assignment.pk}/feedback/")
    assert res.status_code == expected


def test_feedback_before_submitting_is_refused(roles, client_for):
    project, users = roles
    add_pairs(project, TOPICS[:1])
    task = engine.next_task(project_id=project.pk, annotator=users["annotator"])
    res = client_for(users["annotator"]).get(f"/api/v1/assignments/{task.assignment.pk}/feedback/")
    assert res.status_code == 409
    assert "Submit" in res.json()["detail"]
