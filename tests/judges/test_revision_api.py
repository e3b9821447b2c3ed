"""The HTTP contract of critique-and-revise runs: who may, what bad input answers, a dry
run, and an end-to-end run through a local OpenAI-compatible server (the task runs when
the request commits)."""

from __future__ import annotations

import pytest

from annotation.models import AuditLog, Item
from judges import services
from judges.models import JudgeRun
from tests.judges_engine.test_http_backend import serve

from .conftest import PRINCIPLES, openai_judge
from .test_api import statuses
from .test_revisions import reviser

pytestmark = pytest.mark.django_db


def path(judge) -> str:
    return f"/api/v1/judges/{judge.pk}/revisions/"


def test_managers_only(world, client_for):
    project, users, _items, _constitution = world
    judge = openai_judge(project, users["manager"], "http://127.0.0.1:9/v1")
    assert statuses(client_for, users, "post", path(judge), {"dry_run": True}) == {
        "manager": 200, "reviewer": 403, "annotator": 403, "outsider": 404}
    assert client_for(users["manager"]).post("/api/v1/judges/999999/revisions/", {},
                                             format="json").status_code == 404
    assert client_for(None).post(path(judge), {}, format="json").status_code == 401
    assert not JudgeRun.objects.exists()


def test_end_to_end(world, client_for, django_capture_on_commit_callbacks):
    project, users, items, _constitution = world
    manager = client_for(users["manager"])
    with serve(default=reviser()) as (base_url, endpoint):
        judge = openai_judge(project, users["manager"], base_url)
        estimate = manager.post(path(judge), {"items": [items[0][0].pk], "rounds": 2,
                                              "dry_run": True}, format="json")
        assert estimate.status_code == 200, estimate.content
        assert estimate.json()["n_items"] == 1
        assert (estimate.json()["estimate"]["responses"],
                estimate.json()["estimate"]["calls"]) == (2, 8)
        assert not endpoint.requests and not JudgeRun.objects.exists()
        with django_capture_on_commit_callbacks(execute=True):
            started = manager.post(path(judge), {"items": [items[0][0].pk], "rounds": 2},
                                   format="json")
        assert started.status_code == 202, started.content
        body = started.json()
        assert (body["kind"], body["rounds"], body["status"], body["n_items"]) == (
            "revise", 2, "queued", 1)
        assert body["estimate"] == estimate.json()["estimate"]
    assert len(endpoint.requests) == 8
    run = client_for(users["reviewer"]).get(f"/api/v1/judge-runs/{body['id']}/").json()
    assert (run["status"], run["kind"], run["n_judged"], run["progress"]) == (
        "succeeded", "revise", 2, 1.0)
    assert Item.objects.filter(meta__synthetic__run=body["id"]).count() == 2
    assert AuditLog.objects.filter(action="judge.revise", actor=users["manager"]).count() == 1
    # Judge runs answer with their kind too.
    with serve() as (base_url, _endpoint):
        judged = manager.post(f"/api/v1/judges/{judge.pk}/runs/", {"limit": 1},
                              format="json").json()
    assert (judged["kind"], judged["rounds"]) == ("judge", 1)


@pytest.mark.parametrize(("body", "field"), [
    ({"rounds": 0}, "rounds"),
    ({"rounds": 5}, "rounds"),
    ({"rounds": "two"}, "rounds"),
    ({"limit": 0}, "limit"),
    ({"items": "everything"}, "items"),
    ({"items": "sample"}, "limit"),
    ({"dry_run": "perhaps"}, "dry_run"),
    ({"colour": "red"}, "colour"),
])
def test_bad_requests_answer_400_naming_the_field(world, client_for, body, field):
    project, users, _items, _constitution = world
    judge = openai_judge(project, users["manager"], "http://127.0.0.1:9/v1")
    answer = client_for(users["manager"]).post(path(judge), body, format="json")
    assert answer.status_code == 400, answer.content
    assert answer.json()["errors"][0]["field"] == field
    assert not JudgeRun.objects.exists()


def test_judges_that_cannot_revise_answer_400(world, client_for):
    project, users, _items, _constitution = world
    manager = client_for(users["manager"])
    scorer = services.create_judge(actor=users["manager"], project=project, name="rm",
                                   backend="reward_model")
    answer = manager.post(path(scorer), {}, format="json")
    assert (answer.status_code, answer.json()["errors"][0]["field"]) == (400, "backend")
    services.publish_constitution(actor=users["manager"], project=project,
                                  principles=PRINCIPLES[:1])
    judge = openai_judge(project, users["manager"], "http://127.0.0.1:9/v1")
    answer = manager.post(path(judge), {"dry_run": True}, format="json")
    assert (answer.status_code, answer.json()["errors"][0]["field"]) == (400, "principles")
    assert "critique" in answer.json()["detail"]
