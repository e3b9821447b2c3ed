"""Critique-and-revise runs through the services, the judge model behind a real
OpenAI-compatible server on 127.0.0.1 that critiques and revises deterministically: a
critique names the text it read, a revision appends " (revised)" to it."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation import services as annotation_services
from annotation.assignment.services import next_task
from annotation.assignment.submission import submit_annotation
from annotation.models import Annotation, AuditLog, Item, Response
from judges import recovery, revisions, services
from judges.backends import generator_for
from judges.models import JudgeRun, JudgeVerdict
from rankwise.errors import ValidationFailed
from tests.exports.test_export_api import lines, make_item, url
from tests.judges_engine.test_http_backend import ok, serve

from .conftest import PRINCIPLES, openai_judge

pytestmark = pytest.mark.django_db

SHOWN = re.compile(r"\[The Start of the Assistant's Response\]\n(.*?)\n"
                   r"\[The End of the Assistant's Response\]", re.S)


def field_of(error: ValidationFailed) -> str:
    return error.errors[0]["field"]


def reviser(*, empty_when: str | None = None):
    """The server's step: a critique of the text shown, or that text revised; a revision
    of a text containing ``empty_when`` comes back empty (a failed round)."""
    def step(request):
        messages = request["body"]["messages"]
        text = SHOWN.search(messages[1]["content"]).group(1)
        if messages[-1]["content"].startswith("Revision request:"):
            if empty_when is not None and empty_when in text:
                return ok("   ")
            return ok(f"{text} (revised)")
        return ok(f"Critique of: {text}")

    return step


def synthetic_of(item) -> list[Item]:
    return list(Item.objects.filter(meta__synthetic__origin_item=item.pk).order_by("id"))


def run_revisions(judge, manager, **request):
    run = revisions.request_revision_run(actor=manager, judge=judge, **request)
    return services.execute_run(run_id=run.pk)  # the task's path: dispatched on the kind


def test_one_round_makes_a_synthetic_pair_per_response(world):
    project, users, items, constitution = world
    (i0, ids0) = items[0]
    with serve(default=reviser()) as (base_url, endpoint):
        judge = openai_judge(project, users["manager"], base_url, seed=3)
        run = run_revisions(judge, users["manager"], items=[i0.pk])
    assert (run.kind, run.rounds, run.status) == ("revise", 1, "succeeded")
    assert (run.n_items, run.n_judged, run.n_unparseable, run.n_skipped, run.progress) == (
        1, 2, 0, 0, 1.0)
    # A critique, then a revision, per response; only "honest" can revise.
    assert len(endpoint.requests) == 4
    assert "Critique request: Point out anything untrue." in (
        endpoint.requests[0]["body"]["messages"][1]["content"])
    made = synthetic_of(i0)
    assert len(made) == 2
    for synthetic, original_id in zip(made, ids0, strict=True):
        original = Response.objects.get(pk=original_id)
        kept, revised = synthetic.responses.order_by("position")
        assert (kept.text, kept.synthetic, kept.origin) == (original.text, False, None)
        assert (revised.text, revised.synthetic, revised.origin) == (
            f"{original.text} (revised)", True, original)
        assert revised.model == "revision by judge j1"
        assert (synthetic.prompt, synthetic.messages, synthetic.queue_state) == (
            i0.prompt, i0.messages, None)
        meta = synthetic.meta["synthetic"]
        assert {k: meta[k] for k in ("origin_item", "origin_response", "judge", "run",
                                     "principles", "rounds", "constitution_version")} == {
            "origin_item": i0.pk, "origin_response": original.pk, "judge": judge.pk,
            "run": run.pk, "principles": ["honest"], "rounds": 1,
            "constitution_version": constitution.version}
        assert meta["critiques"] == [{"round": 1, "principle": "honest",
                                      "critique": f"Critique of: {original.text}",
                                      "failed": False, "reason": ""}]
        label = Annotation.objects.get(item=synthetic)
        assert (label.source, label.ranking, label.annotator) == (
            "ai", [[revised.pk], [kept.pk]], None)
        verdict = label.judge_verdict
        assert (verdict.verdict, verdict.preference, verdict.principle, verdict.run) == (
            "B", 0.0, "honest", run)
        assert json.loads(verdict.raw)["rounds"][0]["revision"] == f"{original.text} (revised)"
    # The originals are untouched and no human counter moved.
    assert list(i0.responses.values_list("pk", flat=True)) == ids0
    assert set(Item.objects.values_list("annotations_done", "leases_live")) == {(0, 0)}


def test_two_rounds_revise_the_revision(world):
    project, users, items, _constitution = world
    (i0, _ids0) = items[0]
    with serve(default=reviser()) as (base_url, endpoint):
        judge = openai_judge(project, users["manager"], base_url)
        run = run_revisions(judge, users["manager"], items=[i0.pk], rounds=2)
    assert (run.rounds, run.n_judged, len(endpoint.requests)) == (2, 2, 8)
    texts = [s.responses.get(position=1).text for s in synthetic_of(i0)]
    assert texts == ["good answer 0 (revised) (revised)", "bad answer 0 (revised) (revised)"]
    # Round 2's critique read round 1's revision.
    second = [r["body"]["messages"][1]["content"] for r in endpoint.requests]
    assert sum("good answer 0 (revised)\n" in c for c in second) == 2  # its critique, revision
    assert [c["round"] for c in synthetic_of(i0)[0].meta["synthetic"]["critiques"]] == [1, 2]


def test_failed_rounds_are_recorded_and_never_kept(world):
    project, users, items, _constitution = world
    (i0, ids0), (i1, _ids1) = items[:2]
    # Every revision of a "bad" text, and every second round, comes back blank.
    with serve(default=reviser(empty_when="bad")) as (base_url, _endpoint):
        judge = openai_judge(project, users["manager"], base_url)
        run = run_revisions(judge, users["manager"], items=[i0.pk], rounds=2)
    assert (run.n_judged, run.n_unparseable) == (1, 1)
    [made] = synthetic_of(i0)
    assert made.responses.get(position=1).text == "good answer 0 (revised) (revised)"
    failed = JudgeVerdict.objects.get(annotation__isnull=True)
    assert (failed.item, failed.verdict, failed.preference) == (i0, "unparseable", None)
    assert failed.error == ("round 1: the revision is empty; round 2: the revision is empty")
    raw = json.loads(failed.raw)
    assert raw["origin_response"] == ids0[1]
    assert [(r["failed"], r["revision"]) for r in raw["rounds"]] == [(True, ""), (True, "")]
    assert not Response.objects.filter(text__in=["", "   "]).exists()
    # A partial failure keeps the last good text and records the failed round.
    with serve(default=reviser(empty_when="(revised)")) as (base_url, _endpoint):
        judge.base_url = base_url
        judge.save()
        run = run_revisions(judge, users["manager"], items=[i1.pk], rounds=2)
    assert (run.n_judged, run.n_unparseable) == (2, 0)
    made = synthetic_of(i1)
    assert [s.responses.get(position=1).text for s in made] == [
        "good answer 1 (revised)", "bad answer 1 (revised)"]
    critiques = made[0].meta["synthetic"]["critiques"]
    assert [(c["failed"], c["reason"]) for c in critiques] == [
        (False, ""), (True, "the revision is empty")]
    assert made[0].annotations.get().judge_verdict.error == "round 2: the revision is empty"


def test_a_second_run_skips_what_the_judge_already_revised(world):
    project, users, items, _constitution = world
    with serve(default=reviser()) as (base_url, endpoint):
        judge = openai_judge(project, users["manager"], base_url)
        first = run_revisions(judge, users["manager"], items="all", limit=2)
        assert (first.n_items, first.n_judged) == (2, 4)
        again = revisions.request_revision_run(actor=users["manager"], judge=judge)
        # The four synthetic items are never chosen; two origin items are left.
        assert (again.n_items, again.n_skipped, again.estimate["already_revised"]) == (2, 4, 4)
        again = services.execute_run(run_id=again.pk)
        assert services.execute_run(run_id=again.pk).status == "succeeded"  # twice: once
        third = revisions.request_revision_run(actor=users["manager"], judge=judge)
        assert (third.n_items, third.n_skipped) == (0, 8)
        services.execute_run(run_id=third.pk)
    assert len(endpoint.requests) == 16  # 8 responses, 2 calls each, none twice
    assert Item.objects.filter(meta__has_key="synthetic").count() == 8
    assert Annotation.objects.filter(source="ai").count() == 8


def test_a_pair_the_project_holds_already_is_skipped(world):
    """Another judge writing the same revision: the content hash makes it one item."""
    project, users, items, _constitution = world
    (i0, _ids0) = items[0]
    with serve(default=reviser()) as (base_url, _endpoint):
        first = openai_judge(project, users["manager"], base_url)
        other = openai_judge(project, users["manager"], base_url, name="j2")
        run_revisions(first, users["manager"], items=[i0.pk])
        run = run_revisions(other, users["manager"], items=[i0.pk])
    assert (run.n_judged, run.n_skipped) == (0, 2)
    assert len(synthetic_of(i0)) == 2


def test_cancelling_stops_between_items(world):
    project, users, items, _constitution = world
    with serve(default=reviser()) as (base_url, endpoint):
        judge = openai_judge(project, users["manager"], base_url)
        run = revisions.request_revision_run(actor=users["manager"], judge=judge)
        complete, close = generator_for(judge)
        calls = []

        def cancelling(messages):
            calls.append(1)
            if len(calls) == 4:  # the last call of the first item
                services.cancel_run(actor=users["manager"], run=run)
            return complete(messages)

        run = revisions.execute_revision_run(run_id=run.pk, complete=cancelling)
        close()
    assert (run.status, run.n_items, run.n_judged, run.progress) == ("cancelled", 4, 2, 0.25)
    assert len(endpoint.requests) == 4
    assert len(synthetic_of(items[0][0])) == 2 and not synthetic_of(items[1][0])


def test_a_lost_revision_run_is_requeued_and_resumes(world):
    project, users, items, _constitution = world
    with serve(default=reviser()) as (base_url, endpoint):
        judge = openai_judge(project, users["manager"], base_url)
        run = revisions.request_revision_run(actor=users["manager"], judge=judge, limit=2)
        # Its worker wrote the first item, then was lost.
        JudgeRun.objects.filter(pk=run.pk).update(
            status="running", attempts=1, progress=0.5,
            heartbeat_at=timezone.now() - timedelta(hours=1))
        assert recovery.sweep() == {"requeued": 1, "failed": 0}
        run = services.execute_run(run_id=run.pk)
    assert (run.status, run.attempts, run.n_judged) == ("succeeded", 2, 2)
    assert len(endpoint.requests) == 4  # the second item only
    assert synthetic_of(items[1][0]) and not synthetic_of(items[0][0])


def annotate_all(project, annotator, limit: int = 10) -> list[int]:
    """Take and submit tasks until the engine has none left (at most ``limit``)."""
    leased = []
    for _ in range(limit):
        task = next_task(project_id=project.pk, annotator=annotator)
        if task is None:
            break
        leased.append(task.assignment.item_id)
        submit_annotation(assignment_id=task.assignment.pk, annotator=annotator,
                          ranking=[[r] for r in task.assignment.display_order])
    return leased


def revise_one(world):
    project, users, items, _constitution = world
    with serve(default=reviser()) as (base_url, _endpoint):
        judge = openai_judge(project, users["manager"], base_url)
        run_revisions(judge, users["manager"], items=[items[0][0].pk])
    synthetic = set(Item.objects.filter(meta__has_key="synthetic").values_list("pk", flat=True))
    assert len(synthetic) == 2
    return synthetic


def test_synthetic_items_are_not_in_the_open_queue(world):
    project, users, items, _constitution = world
    revise_one(world)
    assert set(Item.objects.filter(meta__has_key="synthetic")
               .values_list("queue_state", flat=True)) == {None}
    leased = annotate_all(project, users["annotator"], limit=len(items))
    assert sorted(leased) == sorted(i.pk for i, _ids in items)


def test_synthetic_items_stay_out_once_the_queue_is_empty(world):
    project, users, items, _constitution = world
    synthetic = revise_one(world)
    leased = annotate_all(project, users["annotator"])
    assert not synthetic & set(leased)


def test_the_pairs_export_only_with_source_ai(world, client_for):
    project, users, items, _constitution = world
    (i0, _ids0) = items[0]
    with serve(default=reviser()) as (base_url, _endpoint):
        judge = openai_judge(project, users["manager"], base_url)
        run_revisions(judge, users["manager"], items=[i0.pk])
    reviewer = client_for(users["reviewer"])
    rows = lines(reviewer.get(url(project, format="trl", source="ai")))
    assert sorted((r["prompt"], r["chosen"], r["rejected"]) for r in rows) == [
        ("Question 0", "bad answer 0 (revised)", "bad answer 0"),
        ("Question 0", "good answer 0 (revised)", "good answer 0")]
    hh = lines(reviewer.get(url(project, format="hh-rlhf", source="ai")))
    assert sorted(r["chosen"].endswith("(revised)") for r in hh) == [True, True]
    assert lines(reviewer.get(url(project, format="trl"))) == []


@pytest.mark.parametrize(("request_fields", "field"), [
    ({"rounds": 0}, "rounds"),
    ({"rounds": 5}, "rounds"),
    ({"rounds": True}, "rounds"),
    ({"limit": 0}, "limit"),
    ({"items": "low_agreement"}, "items"),
    ({"items": []}, "items"),
    ({"items": "sample"}, "limit"),
])
def test_bad_requests_name_the_field(world, request_fields, field):
    project, users, _items, _constitution = world
    judge = openai_judge(project, users["manager"], "http://127.0.0.1:9/v1")
    with pytest.raises(ValidationFailed) as caught:
        revisions.request_revision_run(actor=users["manager"], judge=judge, **request_fields)
    assert field_of(caught.value) == field
    assert not JudgeRun.objects.exists()


def test_judges_and_projects_that_cannot_revise(world, make_user):
    project, users, _items, _constitution = world
    manager = users["manager"]
    scorer = services.create_judge(actor=manager, project=project, name="rm",
                                   backend="reward_model")
    with pytest.raises(ValidationFailed) as caught:
        revisions.request_revision_run(actor=manager, judge=scorer)
    assert field_of(caught.value) == "backend"
    judge = openai_judge(project, manager, "http://127.0.0.1:9/v1")
    services.publish_constitution(actor=manager, project=project, principles=PRINCIPLES[:1])
    with pytest.raises(ValidationFailed) as caught:
        revisions.request_revision_run(actor=manager, judge=judge)
    assert field_of(caught.value) == "principles"
    wide = annotation_services.create_project(actor=manager, name="Triples",
                                              responses_per_item=3)
    make_item(wide, ["a", "b", "c"], prompt="q")
    services.publish_constitution(actor=manager, project=wide, principles=PRINCIPLES)
    with pytest.raises(ValidationFailed) as caught:
        revisions.request_revision_run(actor=manager, judge=openai_judge(
            wide, manager, "http://127.0.0.1:9/v1"))
    assert field_of(caught.value) == "items"
    assert not JudgeRun.objects.exists()


def test_a_dry_run_estimates_and_stores_nothing(world):
    project, users, items, _constitution = world
    judge = openai_judge(project, users["manager"], "http://127.0.0.1:9/v1")
    ids = [items[0][0].pk, items[1][0].pk]
    answer = revisions.request_revision_run(actor=users["manager"], judge=judge, items=ids,
                                            rounds=3, dry_run=True)
    # Each call sends the prompt ("Question n", 10 characters) and the response (13 or 12):
    # 2 items x (10 + 13 + 10 + 12) = 90 characters, by 2 calls a round by 3 rounds.
    assert answer == {"n_items": 2, "estimate": {
        "items": 2, "responses": 4, "calls": 24, "already_revised": 0,
        "prompt_chars": 90 * 2 * 3}}
    assert not JudgeRun.objects.exists()
    assert not AuditLog.objects.filter(action="judge.revise").exists()
    run = revisions.request_revision_run(actor=users["manager"], judge=judge, items=ids,
                                         rounds=3)
    assert run.estimate == answer["estimate"]
    assert AuditLog.objects.filter(action="judge.revise", project=project).count() == 1


def test_a_sample_is_seeded(world):
    project, users, _items, _constitution = world
    judge = openai_judge(project, users["manager"], "http://127.0.0.1:9/v1", seed=11)
    first = revisions.request_revision_run(actor=users["manager"], judge=judge,
                                           items="sample", limit=2, dry_run=True)
    run = revisions.request_revision_run(actor=users["manager"], judge=judge,
                                         items="sample", limit=2)
    assert first["n_items"] == run.n_items == 2
    from judges.selectors import seeded_sample
    assert run.item_ids == seeded_sample(sorted(i.pk for i in project.items.all()), seed=11,
                                         n=2)


def test_a_local_lm_judge_revises_with_its_own_model(world, tmp_path, settings):
    pytest.importorskip("transformers")
    from judges.engine import prompts
    from judges.engine.critique import plain_chat
    from judges.engine.types import Principle
    from training.policy.backbone import build_tiny, build_tokenizer
    from training.policy.config import PolicyConfig

    project, users, items, _constitution = world
    honest = Principle(**PRINCIPLES[1])
    text = plain_chat(prompts.revision_messages("Human: Question 0\n\nAssistant:",
                                                "good answer 0", "Untrue.", honest))
    tokenizer = build_tokenizer([text], vocab_size=300)
    config = PolicyConfig(vocab_size=300, d_model=32, n_layers=2, n_heads=2, d_ff=64,
                          max_prompt_tokens=400, max_response_tokens=16, seed=0)
    build_tiny(config, tokenizer).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    settings.JUDGE_REVISION_MAX_NEW_TOKENS = 8
    judge = services.create_judge(actor=users["manager"], project=project, name="tiny",
                                  backend="local_lm", path=str(tmp_path))
    run = run_revisions(judge, users["manager"], items=[items[0][0].pk])
    assert run.status == "succeeded", run.error
    assert run.n_judged + run.n_unparseable + run.n_skipped == 2
    for synthetic in Item.objects.filter(meta__synthetic__judge=judge.pk):
        revised = synthetic.responses.get(position=1)
        assert revised.synthetic and revised.text.strip() and revised.text != (
            synthetic.responses.get(position=0).text)

