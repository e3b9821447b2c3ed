"""The seeded crowd simulator, and trust catching its bad annotators."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from annotation.quality.consensus import pair_votes, tiers_of_positions
from annotation.quality.crowd_simulation import (
    NOISE,
    ranking_of_response_ids,
    simulate_crowd,
)
from annotation.quality.signals import annotator_signals
from annotation.quality.trust import trust_scores

ACCEPTANCE = {"careful": 12, "random": 3, "first_shown": 3, "too_fast": 2}


def pair_accuracy(labels, items) -> float:
    """Share of pair units voted as the truth has them."""
    right = total = 0
    for record in labels:
        truth = items[record.item].truth
        k = sum(len(t) for t in truth)
        mine, true = pair_votes(record.tiers, k), pair_votes(truth, k)
        right += sum(mine[p] == true[p] for p in mine)
        total += len(mine)
    return right / total


@pytest.fixture(scope="module")
def crowd():
    return simulate_crowd(seed=0)


def test_the_crowd_is_seeded(crowd):
    assert simulate_crowd(seed=0).labels == crowd.labels
    assert simulate_crowd(seed=1).labels != crowd.labels


def test_gold_items_and_overlap(crowd):
    assert len(crowd.gold) == 60 and all(crowd.items[g].gold for g in crowd.gold)
    assert all(crowd.gold[g] == crowd.items[g].truth for g in crowd.gold)
    per_item = Counter(r.item for r in crowd.labels)
    ordinary = [n for item, n in per_item.items() if item not in crowd.gold]
    assert max(ordinary) == 3 and Counter(ordinary)[3] >= 0.9 * len(ordinary)
    # Every annotator is served the oldest gold they have not had: the first gold items are
    # labelled by many.
    assert max(n for item, n in per_item.items() if item in crowd.gold) >= 10
    assert Counter(r.annotator for r in crowd.labels) == dict.fromkeys(crowd.annotator_types, 50)
    assert len({(r.annotator, r.item) for r in crowd.labels}) == len(crowd.labels)
    assert all((r.gold_tiers is not None) == (r.item in crowd.gold) for r in crowd.labels)
    assert all(sorted(r.display_order) == list(range(crowd.items[r.item].k)) for r in crowd.labels)


def test_annotator_types_behave_as_documented():
    crowd = simulate_crowd(n_items=1500, labels_per_annotator=150, seed=4)
    by_type: dict = {}
    for record in crowd.labels:
        by_type.setdefault(crowd.annotator_types[record.annotator], []).append(record)
    # Thurstone case V: P(pair right) = E[Φ(|Δu| / (σ√2))] with Δu ~ N(0, 2), which is
    # 1/2 + arctan(1/σ) / π; ties cost a little of it.
    careful = pair_accuracy(by_type["careful"], crowd.items)
    assert careful == pytest.approx(0.5 + math.atan(1 / NOISE["careful"]) / math.pi, abs=0.04)
    too_fast = pair_accuracy(by_type["too_fast"], crowd.items)
    assert too_fast == pytest.approx(0.5 + math.atan(1 / NOISE["too_fast"]) / math.pi, abs=0.04)
    assert careful - too_fast > 0.1
    for kind in ("random", "first_shown"):
        assert pair_accuracy(by_type[kind], crowd.items) == pytest.approx(0.5, abs=0.04)
    assert all(r.tiers == [[p] for p in r.display_order] for r in by_type["first_shown"])
    seconds = {kind: np.array([r.seconds for r in rs]) for kind, rs in by_type.items()}
    assert 25 <= np.median(seconds["careful"]) <= 40
    assert np.mean((seconds["careful"] >= 20) & (seconds["careful"] <= 45)) > 0.9
    assert seconds["too_fast"].min() >= 1 and seconds["too_fast"].max() <= 3
    signals = annotator_signals(crowd.labels)
    careful_ties = np.mean(
        [signals[w].tie_rate for w, kind in crowd.annotator_types.items() if kind == "careful"]
    )
    assert 0.01 <= careful_ties <= 0.1


def test_mixed_numbers_of_responses():
    crowd = simulate_crowd(n_items=200, labels_per_annotator=20, k=(2, 3, 5), seed=2)
    assert {it.k for it in crowd.items} == {2, 3, 5}
    assert all(sum(len(t) for t in r.tiers) == crowd.items[r.item].k for r in crowd.labels)


def test_a_label_replays_as_response_ids(crowd):
    record = crowd.labels[0]
    ids = [9000 + 10 * p for p in range(crowd.items[record.item].k)]
    ranking = ranking_of_response_ids(record.tiers, ids)
    assert all(i in ids for tier in ranking for i in tier)
    assert tiers_of_positions(ranking, {rid: p for p, rid in enumerate(ids)}) == record.tiers
    assert ranking_of_response_ids([record.display_order], ids)[0] == [
        ids[p] for p in record.display_order
    ]


@pytest.mark.parametrize("seed", range(5))
def test_trust_finds_the_bad_annotators(seed):
    crowd = simulate_crowd(
        n_items=600, gold_rate=0.1, annotators=ACCEPTANCE, labels_per_annotator=50, seed=seed
    )
    trust = trust_scores(annotator_signals(crowd.labels, crowd.skips))
    flagged = {who for who, t in trust.items() if t.flagged}
    caught = flagged & crowd.bad
    assert len(caught) / max(len(flagged), 1) >= 0.95, flagged - crowd.bad
    assert len(caught) / len(crowd.bad) >= 0.95, crowd.bad - flagged


def test_each_bad_type_is_caught_for_its_own_reason(crowd):
    trust = trust_scores(annotator_signals(crowd.labels, crowd.skips))
    expected = {
        "random": {"low_agreement"},
        "first_shown": {"position_bias", "straight_lining"},
        "too_fast": {"too_fast"},
        "careful": set(),
    }
    for who, kind in crowd.annotator_types.items():
        assert expected[kind] <= set(trust[who].flags), (who, trust[who].reason)
        if kind == "careful":
            assert trust[who].flags == (), (who, trust[who].reason)


def test_nobody_is_flagged_on_three_labels():
    crowd = simulate_crowd(annotators=ACCEPTANCE, labels_per_annotator=3, seed=0)
    trust = trust_scores(annotator_signals(crowd.labels, crowd.skips))
    assert len(trust) == 20 and not any(t.flagged or t.flags for t in trust.values())
    assert all(not t.judged for t in trust.values())
