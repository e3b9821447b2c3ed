"""A new reward model against the active one: Wilson intervals, the paired sign test, the
decision rule with hand-worked numbers, and the demo project's live model moving from v1 to
v2 as labels accumulate (it used to stay on v1: a one-item eval split, judged on items v1
had been trained on)."""

from __future__ import annotations

import math
import random

import pytest
from django.test import Client
from scipy.stats import binomtest

from annotation.assignment.services import next_task, submit_annotation
from annotation.demo import load_demo
from annotation.models import Annotation, Response
from annotation.services import acknowledge_current_guideline
from training import runs, selectors
from training.models import ModelVersion
from training.significance import Paired, paired_decision, sign_test, wilson_interval
from training.views import accuracy_note


def test_wilson_interval_against_the_formula_and_scipy():
    # 2 of 3: p = 2/3, z² = 3.8415; centre (0.6667 + 0.6403) / 2.2805 = 0.5731,
    # half 1.96 · sqrt(0.0741 + 0.1067) / 2.2805 = 0.3654 -> 0.2077 .. 0.9385.
    low, high = wilson_interval(2, 3)
    assert (round(low, 4), round(high, 4)) == (0.2077, 0.9385)
    for k, n in ((0, 5), (5, 5), (17, 40), (85, 120)):
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-9)


def test_sign_test_against_scipy():
    # 15 against 5: 2 · (1 + 20 + 190 + 1140 + 4845 + 15504) / 2^20 = 43400 / 1048576.
    assert sign_test(15, 5) == pytest.approx(43400 / 1048576)
    for wins, losses in ((0, 6), (3, 10), (7, 7), (1, 0), (40, 25)):
        assert sign_test(wins, losses) == pytest.approx(binomtest(wins, wins + losses).pvalue)
    assert sign_test(0, 0) == 1.0


def test_the_page_says_when_an_eval_split_is_too_small():
    note = accuracy_note({"accuracy": 2 / 3, "n_pairs": 3})
    assert note["text"] == ("held-out accuracy 0.67 on 3 pairs (95% CI 0.21–0.94): too few "
                            "to compare reliably")
    big = accuracy_note({"accuracy": 0.7, "n_pairs": 200})
    assert big["small"] is False and "too few" not in big["text"]
    assert accuracy_note({"accuracy": None, "n_pairs": 0}) is None


def _paired(both_right: int, new_only: int, old_only: int, both_wrong: int) -> Paired:
    new = [1.0] * both_right + [1.0] * new_only + [0.0] * old_only + [0.0] * both_wrong
    old = [1.0] * both_right + [0.0] * new_only + [1.0] * old_only + [0.0] * both_wrong
    return Paired(new=new, old=old)


def _decide(paired, *, labels=(100, 80), min_improvement=0.0):
    return paired_decision(paired=paired, new_name="v3", active_name="v2",
                           new_labels=labels[0], active_labels=labels[1],
                           min_improvement=min_improvement)


def test_enough_pairs_the_held_out_accuracy_decides_with_its_p_value():
    # 120 pairs: 70 both right, 15 only the new one, 5 only the active one, 30 both wrong:
    # accuracy 85/120 = 0.71 vs 75/120 = 0.62; sign test on 15 vs 5: p = 0.041.
    activate, reason, details = _decide(_paired(70, 15, 5, 30))
    assert activate
    assert reason == ("activated v3: held-out accuracy 0.71 vs 0.62 on 120 pairs, paired sign "
                      "test p=0.04")
    assert details["p_value"] == pytest.approx(43400 / 1048576)
    assert (details["new_better"], details["active_better"], details["n_pairs"]) == (15, 5, 120)
    activate, reason, _ = _decide(_paired(70, 5, 15, 30))
    assert not activate
    assert reason == ("kept v2: held-out accuracy 0.62 vs 0.71 on 120 pairs, paired sign test "
                      "p=0.04 (needs +0)")
    # Equal accuracy is not worse: the model trained on more labels goes live.
    assert _decide(_paired(70, 10, 10, 30))[0]
    # The project's min_improvement still applies: 0.71 is not 0.62 + 0.1.
    activate, reason, _ = _decide(_paired(70, 15, 5, 30), min_improvement=0.1)
    assert not activate and reason.endswith("(needs +0.1)")


def test_too_few_pairs_the_model_with_more_labels_wins_unless_significantly_worse():
    activate, reason, details = _decide(_paired(1, 1, 1, 0))
    assert activate
    assert reason == ("activated v3: too few pairs to compare (3 held out from both, needs 30); "
                      "learned from more labels (100 vs 80), not significantly worse "
                      "(accuracy 0.67 vs 0.67, sign test p=1.00)")
    assert details["method"].startswith("too few pairs")
    # No pair at all: nothing says the new model is worse.
    activate, reason, _ = _decide(Paired(new=[], old=[]))
    assert activate and "0 held out from both" in reason and "no pair to compare" in reason
    # Wrong on all 6 pairs the active model gets right: p = 2 / 2^6 = 0.031 < 0.05.
    activate, reason, _ = _decide(_paired(0, 0, 6, 0))
    assert not activate
    assert reason == ("kept v2: the new model is significantly worse on 6 pairs held out from "
                      "both (accuracy 0.00 vs 1.00, sign test p=0.03)")
    # Fewer labels than the active model and nothing to compare on: keep it.
    activate, reason, _ = _decide(_paired(3, 0, 0, 0), labels=(50, 80))
    assert not activate and "fewer labels (50 vs 80)" in reason
    # A gain the project asks for must be shown, even on few pairs.
    activate, reason, _ = _decide(_paired(3, 0, 0, 0), min_improvement=0.5)
    assert not activate and reason.endswith("(needs +0.5)")
    assert all(len(r) <= 200 for r in (reason,))  # fits TrainingRun.outcome


# --- the demo project --------------------------------------------------------------------

ORDER = {"concise": 0, "rambling": 1, "confident-wrong": 2}


def _label(project, annotator, *, until_training_items: int | None = None, rng) -> int:
    """The annotator ranks tasks as the demo intends (concise ≻ rambling ≻ wrong) through
    the assignment engine, until ``until_training_items`` non-gold items are labelled or
    nothing is left; how many they submitted."""
    done = 0
    while True:
        if until_training_items is not None and Annotation.objects.filter(
                project=project, item__is_gold=False).values("item").distinct().count() \
                >= until_training_items:
            return done
        task = next_task(project_id=project.pk, annotator=annotator, rng=rng)
        if task is None:
            return done
        style = dict(Response.objects.filter(item=task.item).values_list("pk", "model"))
        ranking = [[rid] for rid in sorted((r["id"] for r in task.responses),
                                           key=lambda rid: ORDER[style[rid]])]
        submit_annotation(assignment_id=task.assignment.pk, annotator=annotator,
                          ranking=ranking)
        done += 1


def _train(project):
    run = runs.request_training(project=project, dispatch=False)
    run = runs.execute_run(run_id=run.pk)
    assert run.status == "succeeded", run.error or run.traceback
    return run


def test_the_demo_projects_live_model_moves_on_as_labels_accumulate(db, django_user_model):
    project, users, _ = load_demo()
    people = {u.username: u for u in django_user_model.objects.filter(
        username__in=[name for name, _, _ in users])}
    for name in ("demo-annotator-1", "demo-annotator-2"):
        acknowledge_current_guideline(user=people[name], project=project)
    rng = random.Random(3)
    _label(project, people["demo-annotator-1"], until_training_items=4, rng=rng)
    first = _train(project)
    assert first.outcome == "activated: first reward model of the project"

    _label(project, people["demo-annotator-1"], rng=rng)
    _label(project, people["demo-annotator-2"], rng=rng)
    second = _train(project)
    v1, v2 = ModelVersion.objects.filter(project=project).order_by("version")
    assert selectors.active_version(project_id=project.pk, kind="reward") == v2, second.outcome
    assert second.outcome.startswith("activated v2: too few pairs to compare"), second.outcome
    decision = v2.metrics["decision"]
    assert decision["n_pairs"] < 30 and decision["labels"] > decision["active_labels"]
    assert f"({decision['labels']} vs {decision['active_labels']})" in second.outcome
    assert math.isclose(decision["p_value"], sign_test(decision["new_better"],
                                                       decision["active_better"]))
    # v2 was judged only on held-out items that v1 did not learn from.
    fair = set(v2.eval_split["eval_items"]) - set(v1.eval_split["train_item_ids"])
    assert decision["n_pairs"] == 3 * len(fair)  # three ranked responses: three pairs each
    assert v2.eval_split["train_item_ids"] and v2.metrics["held_out_loss_curve"]

    manager = people["demo-manager"]
    client = Client()
    client.force_login(manager)
    html = client.get(f"/projects/{project.pk}/models/").content.decode()
    assert second.outcome.split(":")[0] in html and "too few pairs to compare" in html
    listed = client.get(f"/api/v1/projects/{project.pk}/reward-models/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [(r["name"], r["is_active"]) for r in rows] == [("v2", True), ("v1", False)]
    assert rows[0]["metrics"]["decision"]["reason"] == second.outcome
    run = client.get(f"/api/v1/training-runs/{second.pk}/").json()
    assert run["outcome"] == second.outcome and run["reward_model"]["is_active"]
