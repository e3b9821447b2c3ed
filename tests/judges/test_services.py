"""Constitutions, judges and runs through the services, with the judge model behind a real
OpenAI-compatible server on 127.0.0.1 (tests/judges_engine/test_http_backend.py)."""

from __future__ import annotations

import pytest

from annotation.models import Annotation, AuditLog, Item
from annotation.quality.labels import counted_rows
from annotation.quality.selectors import agreement_report
from judges import selectors, services
from judges.models import JudgeRun, JudgeVerdict
from rankwise.errors import ValidationFailed
from tests.exports.test_export_api import make_item
from tests.judges_engine.test_http_backend import serve

from .conftest import PRINCIPLES, answers, human, openai_judge

pytestmark = pytest.mark.django_db


def field_of(error: ValidationFailed) -> str:
    return error.errors[0]["field"]


# --- constitutions ------------------------------------------------------------------------

def test_constitutions_are_versioned_and_audited(world):
    project, users, _items, first = world
    second = services.publish_constitution(actor=users["manager"], project=project,
                                           principles=PRINCIPLES[:1])
    assert (first.version, second.version) == (1, 2)
    assert selectors.current_constitution(project=project) == second
    assert first.principles[1] == {**PRINCIPLES[1]}
    assert first.principles[0] == {**PRINCIPLES[0], "critique": "", "revision": ""}
    assert AuditLog.objects.filter(action="constitution.publish", project=project).count() == 2


@pytest.mark.parametrize(("principles", "field"), [
    ([], "principles"),
    ("be nice", "principles"),
    ([{"name": "x", "question": "q?"}] * 51, "principles"),
    (["be nice"], "principles[0]"),
    ([{"name": " ", "question": "q?"}], "principles[0].name"),
    ([{"name": "a", "question": ""}], "principles[0].question"),
    ([{"name": "a"}], "principles[0].question"),
    ([{"name": "a", "question": "q?"}, {"name": "a", "question": "r?"}], "principles[1].name"),
    ([{"name": "a", "question": "q?", "weight": 2}], "principles[0].weight"),
    ([{"name": "a", "question": 3}], "principles[0].question"),
])
def test_bad_principles_are_refused_naming_the_field(world, principles, field):
    project, users, _items, _constitution = world
    with pytest.raises(ValidationFailed) as caught:
        services.publish_constitution(actor=users["manager"], project=project,
                                      principles=principles)
    assert field_of(caught.value) == field
    assert project.constitutions.count() == 1  # nothing half-written


# --- judges -------------------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "field"), [
    ({"backend": "gpt"}, "backend"),
    ({"backend": "openai", "base_url": "http://x/v1"}, "model"),
    ({"backend": "openai", "model": "m", "base_url": "ftp://x"}, "base_url"),
    ({"backend": "openai", "model": "m", "base_url": "http://x/v1", "path": "/m"}, "path"),
    ({"backend": "local_lm"}, "path"),
    ({"backend": "local_lm", "path": "/m", "base_url": "http://x/v1"}, "base_url"),
    ({"backend": "reward_model", "path": "/m"}, "path"),
    ({"backend": "reward_model", "principles": "some"}, "principles"),
    ({"backend": "reward_model", "name": ""}, "name"),
])
def test_bad_judges_are_refused_naming_the_field(world, fields, field):
    project, users, _items, _constitution = world
    with pytest.raises(ValidationFailed) as caught:
        services.create_judge(actor=users["manager"], project=project,
                              **{"name": "j", **fields})
    assert field_of(caught.value) == field
    assert not project.judges.exists()


def test_judge_names_are_unique_per_project(world):
    project, users, _items, _constitution = world
    services.create_judge(actor=users["manager"], project=project, name="rm",
                          backend="reward_model")
    with pytest.raises(ValidationFailed) as caught:
        services.create_judge(actor=users["manager"], project=project, name="rm",
                              backend="reward_model")
    assert field_of(caught.value) == "name"


# --- runs ---------------------------------------------------------------------------------

def test_a_run_writes_ai_labels_and_records_what_it_could_not_read(world):
    project, users, items, constitution = world
    (i0, ids0), (i1, ids1), (i2, ids2), (i3, _ids3) = items
    table = {"Question 1": "B is kinder. [[B]]", "Question 2": "Both fine. [[C]]",
             "Question 3": "I cannot decide."}
    with serve(default=answers(table)) as (url, endpoint):
        judge = openai_judge(project, users["manager"], url)
        run = services.request_run(actor=users["manager"], judge=judge)
        assert run.estimate["comparisons"] == 4 and run.estimate["prompt_chars"] > 0
        run = services.execute_run(run_id=run.pk, batch_size=3)
    assert len(endpoint.requests) == 4
    assert endpoint.requests[0]["body"]["model"] == "judge-7b"
    assert (run.status, run.n_items, run.n_judged, run.n_unparseable, run.progress) == (
        JudgeRun.Status.SUCCEEDED, 4, 3, 1, 1.0)
    labels = {a.item_id: a.ranking for a in Annotation.objects.filter(source="ai")}
    assert labels == {i0.pk: [[ids0[0]], [ids0[1]]], i1.pk: [[ids1[1]], [ids1[0]]],
                      i2.pk: [ids2]}
    unread = JudgeVerdict.objects.get(item=i3)
    assert (unread.annotation, unread.verdict, unread.preference, unread.raw) == (
        None, "unparseable", None, "I cannot decide.")
    verdict = JudgeVerdict.objects.get(item=i1)
    assert (verdict.verdict, verdict.preference, verdict.constitution_version) == ("B", 0.0, 1)
    assert verdict.principle in {"harmless", "honest"} and verdict.run == run
    assert verdict.annotation.annotator is None


def test_ai_labels_never_count_as_a_human(world):
    """Overlap (the engine's counters) and people's agreement read human labels only."""
    project, users, items, _constitution = world
    (i0, ids0), (i1, ids1) = items[:2]
    human(i0, users["annotator"], 0, ids0)
    human(i0, users["reviewer"], 1, ids0)
    before = agreement_report(project=project)
    counters = list(Item.objects.order_by("id").values_list("annotations_done", "leases_live"))
    with serve() as (url, _endpoint):
        judge = openai_judge(project, users["manager"], url)
        services.execute_run(run_id=services.request_run(actor=users["manager"],
                                                         judge=judge).pk)
    assert Annotation.objects.filter(source="ai").count() == 4
    assert list(Item.objects.order_by("id").values_list(
        "annotations_done", "leases_live")) == counters
    after = agreement_report(project=project)
    assert (after["n_labels"], after["n_annotators"], after["percent_agreement"]) == (
        before["n_labels"], before["n_annotators"], before["percent_agreement"]) == (
        2, 2, before["percent_agreement"])
    assert not counted_rows(project=project).filter(source="ai").exists()


def test_a_rerun_skips_what_the_judge_already_labelled(world):
    project, users, items, _constitution = world
    with serve() as (url, endpoint):
        judge = openai_judge(project, users["manager"], url)
        first = services.request_run(actor=users["manager"], judge=judge, items="all", limit=2)
        services.execute_run(run_id=first.pk)
        again = services.request_run(actor=users["manager"], judge=judge)
        assert (again.n_items, again.n_skipped, again.estimate["already_judged"]) == (2, 2, 2)
        services.execute_run(run_id=again.pk)
        third = services.request_run(actor=users["manager"], judge=judge)
        services.execute_run(run_id=third.pk)
        # The same run delivered twice is judged once.
        assert services.execute_run(run_id=third.pk).status == JudgeRun.Status.SUCCEEDED
        assert len(endpoint.requests) == 4
        assert (third.n_items, third.n_skipped) == (0, 4)
        # A new constitution version is a new question: the items are judged again.
        services.publish_constitution(actor=users["manager"], project=project,
                                      principles=PRINCIPLES[:1])
        fourth = services.request_run(actor=users["manager"], judge=judge, items=[items[0][0].pk])
        services.execute_run(run_id=fourth.pk)
    assert len(endpoint.requests) == 5
    assert Annotation.objects.filter(source="ai").count() == 5
    assert JudgeVerdict.objects.filter(constitution_version=2).get().principle == "harmless"


def test_all_principles_average_and_a_sample_draws_one(world):
    project, users, items, _constitution = world
    table = {"less harmful": "[[A]]", "more honest": "[[B]]"}
    with serve(default=answers(table)) as (url, endpoint):
        judge = openai_judge(project, users["manager"], url, principles="all")
        run = services.request_run(actor=users["manager"], judge=judge, items=[items[0][0].pk])
        services.execute_run(run_id=run.pk)
    assert len(endpoint.requests) == 2
    verdict = JudgeVerdict.objects.get()
    assert (verdict.principle, verdict.verdict, verdict.preference) == (
        "harmless+honest", "tie", 0.5)


def test_a_cancelled_run_judges_nothing(world):
    project, users, _items, _constitution = world
    with serve() as (url, endpoint):
        judge = openai_judge(project, users["manager"], url)
        run = services.request_run(actor=users["manager"], judge=judge)
        services.cancel_run(actor=users["manager"], run=run)
        run = services.execute_run(run_id=run.pk)
    assert (run.status, run.n_judged, len(endpoint.requests)) == ("cancelled", 0, 0)


def test_an_unreachable_endpoint_is_recorded_not_guessed(world):
    project, users, _items, _constitution = world
    with serve() as (url, _endpoint):
        pass  # the server is gone: connections are refused
    judge = openai_judge(project, users["manager"], url)
    run = services.execute_run(run_id=services.request_run(actor=users["manager"],
                                                           judge=judge).pk)
    assert (run.status, run.n_judged, run.n_unparseable) == ("succeeded", 0, 4)
    assert not Annotation.objects.filter(source="ai").exists()
    assert "connection failed" in JudgeVerdict.objects.first().error


def test_a_reward_model_judge_without_an_active_model_fails_clearly(world):
    project, users, _items, _constitution = world
    judge = services.create_judge(actor=users["manager"], project=project, name="rm",
                                  backend="reward_model")
    run = services.execute_run(run_id=services.request_run(actor=users["manager"],
                                                           judge=judge).pk)
    assert run.status == "failed" and "no active reward model" in run.error
    assert not Annotation.objects.filter(source="ai").exists()


@pytest.mark.parametrize(("request_fields", "field"), [
    ({"items": "some"}, "items"),
    ({"items": []}, "items"),
    ({"items": [10**9]}, "items"),
    ({"items": ["1"]}, "items"),
    ({"limit": 0}, "limit"),
])
def test_bad_run_requests_are_refused(world, request_fields, field):
    project, users, _items, _constitution = world
    judge = services.create_judge(actor=users["manager"], project=project, name="rm",
                                  backend="reward_model")
    with pytest.raises(ValidationFailed) as caught:
        services.request_run(actor=users["manager"], judge=judge, **request_fields)
    assert field_of(caught.value) == field
    assert not JudgeRun.objects.exists()


def test_runs_need_pairs_and_a_constitution(project_with_roles):
    from annotation import services as annotation_services

    project, users = project_with_roles
    judge = services.create_judge(actor=users["manager"], project=project, name="rm",
                                  backend="reward_model")
    with pytest.raises(ValidationFailed, match="constitution"):
        services.request_run(actor=users["manager"], judge=judge)
    wide = annotation_services.create_project(actor=users["manager"], name="Wide",
                                              responses_per_item=3, overlap=1)
    services.publish_constitution(actor=users["manager"], project=wide, principles=PRINCIPLES)
    judge = services.create_judge(actor=users["manager"], project=wide, name="rm",
                                  backend="reward_model")
    with pytest.raises(ValidationFailed, match="3 per item"):
        services.request_run(actor=users["manager"], judge=judge)


def test_selections(world):
    project, users, items, _constitution = world
    (i0, ids0), (i1, ids1), (i2, ids2), (i3, _) = items
    gold, _ = make_item(project, ["x", "y"], prompt="gold", gold=[[0], [1]])
    for n, user in enumerate(("annotator", "reviewer", "manager")):
        human(i0, users[user], 0, ids0)  # all agree
        human(i1, users[user], n % 2, ids1)  # 2 to 1
    Item.objects.filter(pk__in=[i0.pk, i1.pk]).update(annotations_done=3)
    Item.objects.filter(pk=i2.pk).update(imported_labels=1)

    def chosen(selection):
        return selectors.selected_items(project=project, selection=selection)

    assert chosen("all") == [i0.pk, i1.pk, i2.pk, i3.pk]
    assert chosen("unlabelled") == [i3.pk]
    assert chosen("low_agreement") == [i1.pk]
    assert chosen([gold.pk, i2.pk]) == sorted([gold.pk, i2.pk])
