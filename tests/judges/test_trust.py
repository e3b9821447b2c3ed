"""Trust in AI labels: the binomial test against scipy, position bias and the reliability
diagram against hand-worked values, and the agreement and trust APIs that carry them."""

from __future__ import annotations

import random

import pytest
from scipy.stats import binomtest

from annotation.models import Annotation
from judges import selectors, services, trust
from judges.models import JudgeVerdict

from .conftest import human

# --- the math, without Django -----------------------------------------------------------

@pytest.mark.parametrize(("k", "n", "expected"), [
    (0, 5, 2 / 32), (1, 5, 2 * 6 / 32), (2, 4, 1.0), (9, 10, 2 * 11 / 1024), (1, 1, 1.0),
    (0, 1, 1.0), (3, 4, 2 * 5 / 16),
])
def test_binomial_test_hand_worked(k, n, expected):
    assert trust.binomial_test(k, n) == pytest.approx(expected, rel=1e-12)


def test_binomial_test_matches_scipy():
    draw = random.Random(3)
    cases = [(draw.randint(0, n), n, p) for n in (1, 2, 7, 30, 101, 400, 2500)
             for p in (0.5, 0.5, 0.3, 0.81) for _ in range(6)]
    cases += [(30_000, 50_000, 0.5), (25_010, 50_000, 0.5), (12, 40, 0.25)]
    for k, n, p in cases:
        assert trust.binomial_test(k, n, p) == pytest.approx(binomtest(k, n, p).pvalue,
                                                             rel=1e-9, abs=1e-300), (k, n, p)


@pytest.mark.parametrize(("k", "n", "p"), [(-1, 3, 0.5), (4, 3, 0.5), (0, 0, 0.5),
                                           (1, 3, 0.0), (1, 3, 1.0)])
def test_binomial_test_refuses_impossible_input(k, n, p):
    with pytest.raises(ValueError):
        trust.binomial_test(k, n, p)


def test_position_bias_of_one_prompt_verdicts_hand_counted():
    verdicts = [("A", False), ("A", True), ("B", True), ("B", False), ("B", True),
                ("tie", True), ("unparseable", False)]
    # First shown won: A unswapped, B swapped ×2 → 3 of 5 decisive.
    got = trust.bias_of_verdicts(verdicts)
    assert (got["first_shown_rate"], got["n"]) == (0.6, 5)
    assert got["p_value"] == pytest.approx(binomtest(3, 5).pvalue)
    always_first = trust.bias_of_verdicts([("A", False)] * 9 + [("B", False)])
    assert always_first["first_shown_rate"] == 0.9
    assert always_first["p_value"] == pytest.approx(22 / 1024)
    assert trust.bias_of_verdicts([("tie", False)]) == {
        "first_shown_rate": None, "n": 0, "p_value": None, "note": trust.NOTE_EMPTY}


def test_position_bias_of_both_orders_hand_worked():
    got = trust.bias_of_both_orders([[0.8, 0.6], [0.7, 0.4], [0.5, 0.9]])
    assert got["first_shown_rate"] == pytest.approx(3.9 / 6)
    assert got["n"] == 3
    # Orders read with a side preferred: 0.8 0.6 0.7 0.9 first, 0.4 second (0.5 neither).
    assert got["p_value"] == pytest.approx(binomtest(4, 5).pvalue) == pytest.approx(0.375)
    assert trust.bias_of_both_orders([[0.5, 0.5]])["p_value"] is None
    assert trust.bias_of_both_orders([])["n"] == 0


def test_reliability_bins_hand_worked():
    bins = trust.reliability([0.05, 0.15, 0.12, 0.55, 0.95, 1.0, 0.0], [0, 0, 1, 1, 1, 1, 0])
    assert len(bins) == 10
    assert [b["n"] for b in bins] == [2, 2, 0, 0, 0, 1, 0, 0, 0, 2]
    first, second, sixth, last = bins[0], bins[1], bins[5], bins[9]
    assert (first["lower"], first["upper"]) == (0.0, 0.1)
    assert first["mean_predicted"] == pytest.approx(0.025) and first["observed"] == 0.0
    assert second["mean_predicted"] == pytest.approx(0.135) and second["observed"] == 0.5
    assert sixth["mean_predicted"] == pytest.approx(0.55) and sixth["observed"] == 1.0
    assert last["mean_predicted"] == pytest.approx(0.975) and last["observed"] == 1.0
    assert bins[2] == {"lower": pytest.approx(0.2), "upper": pytest.approx(0.3), "n": 0,
                       "mean_predicted": None, "observed": None}
    assert trust.reliability([], []) == []


# --- the figures from the database and through the API ----------------------------------

def ai_label(judge, item, ids, verdict, preference, *, swapped=False, principle="harmless",
             order_preferences=None):
    a, b = ids
    ranking = {"A": [[a], [b]], "B": [[b], [a]], "tie": [[a, b]]}[verdict]
    annotation = Annotation.objects.create(project=item.project, item=item, ranking=ranking,
                                           source=Annotation.Source.AI)
    return JudgeVerdict.objects.create(
        annotation=annotation, judge=judge, item=item, principle=principle,
        constitution_version=1, preference=preference, verdict=verdict, swapped=swapped,
        order_preferences=order_preferences)


@pytest.fixture
def judged(world):
    """Four items two people labelled (A, B, A, a tie) and an openai judge's labels on them
    (A .85 shown in order, A .65 swapped, B .15 swapped, A .95 in order)."""
    project, users, items, _constitution = world
    people = (users["manager"], users["reviewer"])
    for (item, ids), winner in zip(items, (0, 1, 0, None), strict=True):
        for person in people:
            human(item, person, winner, ids)
    judge = services.create_judge(actor=users["manager"], project=project, name="gpt",
                                  backend="openai", model="judge-7b",
                                  base_url="http://127.0.0.1:9/v1")
    for (item, ids), (verdict, p, swapped, principle) in zip(items, [
            ("A", 0.85, False, "harmless"), ("A", 0.65, True, "harmless"),
            ("B", 0.15, True, "honest"), ("A", 0.95, False, "honest")], strict=True):
        ai_label(judge, item, ids, verdict, p, swapped=swapped, principle=principle)
    return project, users, judge


AGREEMENT_KEYS = {"n_items", "percent_agreement", "cohen_kappa", "ece", "human_ceiling",
                  "by_principle", "reliability", "position_bias", "position_bias_note"}


def test_agreement_carries_reliability_and_position_bias(judged, client_for):
    _project, users, judge = judged
    answer = client_for(users["reviewer"]).get(f"/api/v1/judges/{judge.pk}/agreement/")
    assert answer.status_code == 200
    figures = answer.json()
    assert set(figures) == AGREEMENT_KEYS
    # People +1 −1 +1 0, the judge +1 +1 −1 +1: one match in four.
    assert figures["n_items"] == 4 and figures["percent_agreement"] == 0.25
    # po = 1/4, pe = 2/4·3/4 + 1/4·1/4 = 7/16: κ = (4/16 − 7/16) / (9/16) = −1/3.
    assert figures["cohen_kappa"] == pytest.approx(-1 / 3)
    # Untied items: confidence .85 right, .65 wrong, .85 wrong: 2/3·|.5 − .85| + 1/3·.65.
    assert figures["ece"] == pytest.approx(0.45)
    assert figures["human_ceiling"] == 1.0
    filled = {round(b["lower"], 1): b for b in figures["reliability"] if b["n"]}
    assert set(filled) == {0.1, 0.6, 0.8}
    assert (filled[0.1]["mean_predicted"], filled[0.1]["observed"]) == (0.15, 1.0)
    assert (filled[0.6]["mean_predicted"], filled[0.6]["observed"]) == (0.65, 0.0)
    assert (filled[0.8]["mean_predicted"], filled[0.8]["observed"]) == (0.85, 1.0)
    assert sum(b["n"] for b in figures["reliability"]) == 3  # the tied item is left out
    # First shown won on items 0, 2 and 3 (item 1: B shown first, A chosen).
    bias = figures["position_bias"]
    assert (bias["first_shown_rate"], bias["n"]) == (0.75, 4)
    assert bias["p_value"] == pytest.approx(binomtest(3, 4).pvalue)
    assert bias["note"] == trust.NOTE_SHOWN and figures["position_bias_note"] is None
    harmless, honest = figures["by_principle"]["harmless"], figures["by_principle"]["honest"]
    assert (harmless["n_items"], harmless["percent_agreement"]) == (2, 0.5)
    assert (honest["n_items"], honest["percent_agreement"]) == (2, 0.0)
    assert set(harmless) == {"n_items", "percent_agreement", "cohen_kappa", "ece"}


def test_an_excluded_ai_label_counts_nowhere(judged):
    _project, _users, judge = judged
    first = judge.verdicts.order_by("id").first()
    Annotation.objects.filter(pk=first.annotation_id).update(excluded=True)
    figures = selectors.agreement(judge=judge)
    assert figures["n_items"] == 3 and figures["position_bias"]["n"] == 3


def test_a_reward_model_has_no_position_and_local_lm_reads_both_orders(judged, client_for):
    project, users, judge = judged
    services.create_judge(actor=users["manager"], project=project, name="rm",
                               backend="reward_model")
    lm = services.create_judge(actor=users["manager"], project=project, name="lm",
                               backend="local_lm", path="/models/feedback")
    items = list(project.items.order_by("id"))
    for item, prefs in zip(items[:3], ([0.8, 0.6], [0.7, 0.4], [0.5, 0.9]), strict=True):
        ids = list(item.responses.order_by("position").values_list("pk", flat=True))
        ai_label(lm, item, ids, "A", 0.6, order_preferences=prefs)
    answer = client_for(users["reviewer"]).get(f"/api/v1/projects/{project.pk}/judges/trust/")
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"project", "human_ceiling", "judges"}
    assert (body["project"], body["human_ceiling"]) == (project.pk, 1.0)
    by_name = {j["name"]: j for j in body["judges"]}
    assert [j["name"] for j in body["judges"]] == ["gpt", "rm", "lm"]
    assert set(by_name["gpt"]) == AGREEMENT_KEYS - {"human_ceiling"} | {
        "id", "name", "backend", "model"}
    assert by_name["gpt"]["position_bias"]["first_shown_rate"] == 0.75
    assert by_name["rm"]["position_bias"] is None
    assert "scores each response alone" in by_name["rm"]["position_bias_note"]
    assert by_name["rm"]["n_items"] == 0 and by_name["rm"]["reliability"] == []
    lm_bias = by_name["lm"]["position_bias"]
    assert lm_bias["first_shown_rate"] == pytest.approx(3.9 / 6) and lm_bias["n"] == 3
    assert lm_bias["p_value"] == pytest.approx(0.375)
    assert lm_bias["note"] == trust.NOTE_BOTH_ORDERS


def test_who_may_read_the_trust_figures(judged, client_for):
    project, users, _judge = judged
    path = f"/api/v1/projects/{project.pk}/judges/trust/"
    statuses = {role: client_for(users[role]).get(path).status_code
                for role in ("manager", "reviewer", "annotator", "outsider")}
    # An annotator member is told the role is too low; a stranger learns nothing.
    assert statuses == {"manager": 200, "reviewer": 200, "annotator": 403, "outsider": 404}
    assert client_for(users["manager"]).get(
        "/api/v1/projects/999999/judges/trust/").status_code == 404
    assert client_for(None).get(path).status_code == 401


def test_the_schema_documents_the_new_fields(client_for, world):
    _project, users, _items, _constitution = world
    schema = client_for(users["manager"]).get("/api/schema/?format=json")
    if schema.status_code != 200:
        schema = client_for(users["manager"]).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/v1/projects/{id}/judges/trust/" in text
    for name in ("first_shown_rate", "mean_predicted", "position_bias_note", "human_ceiling"):
        assert name in text
