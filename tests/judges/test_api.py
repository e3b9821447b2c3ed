"""The HTTP contract of constitutions, judges, runs and agreement: who may, what bad input
answers, and an end-to-end run through a local OpenAI-compatible server."""

from __future__ import annotations

import pytest

from annotation.models import Annotation
from judges import services
from judges.engine.calibration import expected_calibration_error
from judges.models import Judge
from tests.exports.test_export_api import lines, url
from tests.judges_engine.test_http_backend import serve

from .conftest import PRINCIPLES, answers, human, openai_judge

pytestmark = pytest.mark.django_db

ROLES = ("manager", "reviewer", "annotator", "outsider")


def statuses(client_for, users, method, path, body=None) -> dict[str, int]:
    out = {}
    for role in ROLES:
        client = client_for(users[role])
        answer = getattr(client, method)(path, body, format="json") if body is not None else (
            getattr(client, method)(path))
        out[role] = answer.status_code
    return out


def test_who_may_do_what(world, client_for):
    project, users, items, _constitution = world
    judge = services.create_judge(actor=users["manager"], project=project, name="rm",
                                  backend="reward_model")
    run = services.request_run(actor=users["manager"], judge=judge)
    base = f"/api/v1/projects/{project.pk}"
    assert statuses(client_for, users, "get", f"{base}/constitution/") == {
        "manager": 200, "reviewer": 200, "annotator": 200, "outsider": 404}
    assert statuses(client_for, users, "put", f"{base}/constitution/",
                    {"principles": PRINCIPLES}) == {
        "manager": 200, "reviewer": 403, "annotator": 403, "outsider": 404}
    assert statuses(client_for, users, "get", f"{base}/judges/") == {
        "manager": 200, "reviewer": 403, "annotator": 403, "outsider": 404}
    assert statuses(client_for, users, "get", f"/api/v1/judge-runs/{run.pk}/") == {
        "manager": 200, "reviewer": 200, "annotator": 403, "outsider": 404}
    assert statuses(client_for, users, "get", f"/api/v1/judges/{judge.pk}/agreement/") == {
        "manager": 200, "reviewer": 200, "annotator": 403, "outsider": 404}
    assert statuses(client_for, users, "post", f"/api/v1/judges/{judge.pk}/runs/",
                    {"limit": 1}) == {
        "manager": 202, "reviewer": 403, "annotator": 403, "outsider": 404}
    assert client_for(users["manager"]).get("/api/v1/judges/999999/agreement/").status_code == 404
    assert client_for(None).get(f"{base}/constitution/").status_code == 401


def test_constitution_round_trip(world, client_for):
    project, users, _items, _constitution = world
    manager = client_for(users["manager"])
    answer = manager.put(f"/api/v1/projects/{project.pk}/constitution/",
                         {"principles": PRINCIPLES[:1]}, format="json")
    assert answer.status_code == 200 and answer.json()["version"] == 2
    got = client_for(users["annotator"]).get(f"/api/v1/projects/{project.pk}/constitution/")
    assert got.json()["version"] == 2
    assert got.json()["principles"] == [{**PRINCIPLES[0], "critique": "", "revision": ""}]


@pytest.mark.parametrize(("body", "field"), [
    ({}, "principles"),
    ({"principles": []}, "principles"),
    ({"principles": [{"name": "a"}]}, "principles"),
    ({"principles": PRINCIPLES, "extra": 1}, "extra"),
    ({"principles": [PRINCIPLES[0], PRINCIPLES[0]]}, "principles[1].name"),
])
def test_bad_constitutions_answer_400_naming_the_field(world, client_for, body, field):
    project, users, _items, _constitution = world
    answer = client_for(users["manager"]).put(f"/api/v1/projects/{project.pk}/constitution/",
                                              body, format="json")
    assert answer.status_code == 400, answer.content
    named = [e["field"] for e in answer.json()["errors"]]
    assert any(name.startswith(field) for name in named), named
    assert project.constitutions.count() == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "j", "backend": "gpt"}, "backend"),
    ({"name": "j", "backend": "openai", "base_url": "http://x/v1"}, "model"),
    ({"name": "j", "backend": "local_lm"}, "path"),
    ({"name": "j", "backend": "reward_model", "api_key": "sk-1"}, "api_key"),
    ({"backend": "reward_model"}, "name"),
])
def test_bad_judges_answer_400_naming_the_field(world, client_for, body, field):
    project, users, _items, _constitution = world
    answer = client_for(users["manager"]).post(f"/api/v1/projects/{project.pk}/judges/", body,
                                               format="json")
    assert answer.status_code == 400, answer.content
    assert field in [e["field"] for e in answer.json()["errors"]]
    assert not Judge.objects.exists()


def test_runs_of_wider_items_answer_400(project_with_roles, client_for):
    from annotation import services as annotation_services

    _project, users = project_with_roles
    wide = annotation_services.create_project(actor=users["manager"], name="Wide",
                                              responses_per_item=4, overlap=1)
    services.publish_constitution(actor=users["manager"], project=wide, principles=PRINCIPLES)
    judge = services.create_judge(actor=users["manager"], project=wide, name="rm",
                                  backend="reward_model")
    answer = client_for(users["manager"]).post(f"/api/v1/judges/{judge.pk}/runs/", {},
                                               format="json")
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "items"
    assert "two responses" in answer.json()["detail"]


def test_end_to_end_run_agreement_and_export(world, client_for, django_capture_on_commit_callbacks):
    """Through the API: a judge on a local server labels every item (the task runs when the
    request commits), its agreement with people is measured, and only ``source=ai``
    exports its labels."""
    project, users, items, _constitution = world
    (i0, ids0), (i1, ids1), (i2, ids2), (i3, ids3) = items
    # People: i0 A (2 of 2), i1 B, i2 A (1 import + 1 human), i3 nobody.
    human(i0, users["annotator"], 0, ids0)
    human(i0, users["reviewer"], 0, ids0)
    human(i1, users["annotator"], 1, ids1)
    human(i2, None, 0, ids2, source=Annotation.Source.IMPORT)
    # The judge: A on i0, A on i1 (wrong), B on i2 (wrong), A on i3 (no reference).
    table = {"Question 2": "[[B]]"}
    manager = client_for(users["manager"])
    with serve(default=answers(table)) as (base_url, endpoint):
        created = manager.post(f"/api/v1/projects/{project.pk}/judges/",
                               {"name": "local", "backend": "openai", "model": "judge-7b",
                                "base_url": base_url}, format="json")
        assert created.status_code == 201, created.content
        judge_id = created.json()["id"]
        with django_capture_on_commit_callbacks(execute=True):
            started = manager.post(f"/api/v1/judges/{judge_id}/runs/", {"items": "all"},
                                   format="json")
        assert started.status_code == 202, started.content
        assert started.json()["estimate"]["comparisons"] == 4
    assert len(endpoint.requests) == 4
    run = client_for(users["reviewer"]).get(f"/api/v1/judge-runs/{started.json()['id']}/")
    assert run.json()["status"] == "succeeded", run.json()
    assert (run.json()["n_judged"], run.json()["progress"]) == (4, 1.0)

    figures = client_for(users["reviewer"]).get(f"/api/v1/judges/{judge_id}/agreement/").json()
    assert figures["n_items"] == 3
    assert figures["percent_agreement"] == pytest.approx(1 / 3)
    # People A, B, A; judge A, A, B: observed 1/3, chance (2/3·2/3 + 1/3·1/3) = 5/9.
    assert figures["cohen_kappa"] == pytest.approx((1 / 3 - 5 / 9) / (1 - 5 / 9))
    assert figures["ece"] == pytest.approx(expected_calibration_error([1.0, 1.0, 0.0],
                                                                      [1, 0, 1]))
    assert figures["human_ceiling"] == 1.0  # the one item two people labelled, they agree
    assert sum(p["n_items"] for p in figures["by_principle"].values()) == 3
    assert set(figures["by_principle"]) <= {"harmless", "honest"}

    exported = lines(client_for(users["reviewer"]).get(url(project, format="annotations",
                                                           source="ai")))
    assert sorted(row["item_id"] for row in exported) == sorted(i.pk for i, _ in items)
    assert {row["source"] for row in exported} == {"ai"}
    default = lines(client_for(users["reviewer"]).get(url(project, format="annotations")))
    assert {row["source"] for row in default} == {"human", "import"}


def test_api_keys_come_from_the_environment_and_stay_out_of_answers(world, client_for,
                                                                     monkeypatch):
    project, users, _items, _constitution = world
    with serve() as (base_url, endpoint):
        judge = openai_judge(project, users["manager"], base_url)
        monkeypatch.setenv("RANKWISE_JUDGE_API_KEY", "sk-shared")
        monkeypatch.setenv(f"RANKWISE_JUDGE_{judge.pk}_API_KEY", "sk-own-4242")
        run = services.request_run(actor=users["manager"], judge=judge, limit=1)
        services.execute_run(run_id=run.pk)
    assert endpoint.requests[0]["headers"]["Authorization"] == "Bearer sk-own-4242"
    listed = client_for(users["manager"]).get(f"/api/v1/projects/{project.pk}/judges/")
    assert "sk-" not in listed.content.decode()


def test_cancel_a_run(world, client_for):
    project, users, _items, _constitution = world
    judge = services.create_judge(actor=users["manager"], project=project, name="rm",
                                  backend="reward_model")
    run = services.request_run(actor=users["manager"], judge=judge)
    path = f"/api/v1/judge-runs/{run.pk}/cancel/"
    assert client_for(users["reviewer"]).post(path).status_code == 403
    assert client_for(users["outsider"]).post(path).status_code == 404
    answer = client_for(users["manager"]).post(path)
    assert (answer.status_code, answer.json()["status"]) == (200, "cancelled")
    assert client_for(users["manager"]).post(path).status_code == 409
    assert services.execute_run(run_id=run.pk).status == "cancelled"


def test_runs_go_to_the_judges_queue_and_make_run_consumes_it():
    from rankwise import supervisor
    from rankwise.celery import app

    assert app.amqp.router.route({}, "judges.run_judge")["queue"].name == "judges"
    worker = next(part for part in supervisor.parts(host="127.0.0.1", port=8000,
                                                    web_concurrency=1)
                  if part.name == "worker")
    queues = worker.argv[worker.argv.index("-Q") + 1].split(",")
    assert "judges" in queues
