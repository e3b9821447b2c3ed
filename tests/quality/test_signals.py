"""Per-annotator signals on hand-checked labels, and the trust score built on them."""

from __future__ import annotations

import dataclasses
import math

import pytest
from scipy.stats import binomtest

from annotation.quality.consensus import majority_ranking, pair_votes
from annotation.quality.crowd_simulation import simulate_crowd
from annotation.quality.signals import (
    LabelRecord,
    PairAgreement,
    PositionBias,
    StraightLining,
    annotator_signals,
)
from annotation.quality.trust import PAUSE_BELOW_TRUST, annotator_trust, shrunk_kappa


def label(tiers, display, *, who="a", item=None, seconds=10.0, gold=None):
    return LabelRecord(who, item if item is not None else object(), tiers, display, seconds, gold)


def first_best(display):
    """Tiers of an annotator who ranks in display order."""
    return [[p] for p in display]


# --- position bias -----------------------------------------------------------------------


def test_position_bias_counts_untied_first_two_shown():
    labels = [
        label([[0], [1], [2]], [0, 1, 2]),  # first shown (0) above second (1): a win
        label([[2], [0], [1]], [2, 1, 0]),  # 2 above 1: a win
        label([[1], [2], [0]], [1, 0, 2]),  # 1 above 0: a win
        label([[0], [2], [1]], [0, 2, 1]),  # 0 above 2: a win
        label([[0], [1], [2]], [1, 0, 2]),  # 1 below 0: a loss
        label([[0, 1], [2]], [0, 1, 2]),  # first two tied: left out
        label([[2], [0, 1]], None),  # display order not recorded: left out
    ]
    bias = annotator_signals(labels)["a"].position_bias
    assert bias.n == 5 and bias.first_wins == pytest.approx(4 / 5)
    # Two-sided exact binomial: P(X ≥ 4) + P(X ≤ 1) for X ~ Bin(5, 1/2) = 12/32.
    assert bias.p_value == pytest.approx(12 / 32)
    assert bias.p_value == pytest.approx(binomtest(4, 5, 0.5).pvalue)


def test_always_first_shown_has_a_tiny_p_value():
    displays = [[(s + t) % 4 for s in range(4)] for t in range(20)]
    bias = annotator_signals([label(first_best(d), d) for d in displays])["a"].position_bias
    assert bias.first_wins == 1.0 and bias.n == 20
    assert bias.p_value == pytest.approx(2 * 0.5**20)


# --- pair votes: ties, gold ----------------------------------------------------------------


def test_tie_rate_is_the_share_of_pair_units_voted_a_tie():
    labels = [
        label([[0, 1], [2]], [0, 1, 2]),  # (0,1) tied of 3 pairs
        label([[1], [0], [3], [2]], [3, 2, 1, 0]),  # no tie of 6 pairs
    ]
    assert annotator_signals(labels)["a"].tie_rate == pytest.approx(1 / 9)


def test_gold_accuracy_is_over_the_pair_units_of_gold_items():
    labels = [
        # (0,1) reversed, (0,2) and (1,2) right: 2 of 3.
        label([[1], [0], [2]], [0, 1, 2], gold=[[0], [1], [2]]),
        # Gold ties (0,1): the annotator's strict vote misses it; (0,2), (1,2) right.
        label([[0], [1], [2]], [2, 1, 0], gold=[[0, 1], [2]]),
        label([[2], [1], [0]], [0, 1, 2]),  # not gold: not counted
    ]
    s = annotator_signals(labels)["a"]
    assert s.gold_labels == 2 and s.gold_accuracy == pytest.approx(4 / 6)
    assert s.gold == PairAgreement(pairs=6, matches=4, decided=5, decided_matches=4, decided_ties=0)
    assert annotator_signals(labels[2:])["a"].gold_accuracy is None


# --- leave-one-out agreement --------------------------------------------------------------


def test_agreement_leaves_the_annotator_out_of_the_consensus():
    labels = [
        label([[0], [1], [2]], [0, 1, 2], who="a", item=1),
        label([[0], [1], [2]], [2, 0, 1], who="b", item=1),
        label([[0], [2], [1]], [1, 2, 0], who="c", item=1),
        label([[1], [0]], [0, 1], who="a", item=2),  # nobody else: no consensus
    ]
    s = annotator_signals(labels)
    # a against majority(b, c) = 0 ≻ {1, 2} (b and c split on (1,2)): a matches (0,1), (0,2).
    assert s["a"].consensus == PairAgreement(3, 2, 2, 2, 0)
    assert s["a"].shared_labels == 1 and s["a"].agreement == pytest.approx(2 / 3)
    # c against majority(a, b) = 0 ≻ 1 ≻ 2: c reverses (1,2).
    assert s["c"].agreement == pytest.approx(2 / 3)
    alone = annotator_signals(labels[3:])["a"]
    assert alone.agreement is None and alone.consensus is None


def test_agreement_equals_a_direct_loop_over_majority_ranking():
    crowd = simulate_crowd(n_items=60, labels_per_annotator=25, k=(2, 3, 4, 5), seed=3)
    # One annotator labels an item twice: both labels are left out of their consensus.
    first = crowd.labels[0]
    labels = [*crowd.labels, dataclasses.replace(first, tiers=first.tiers[::-1])]
    by_item: dict = {}
    for record in labels:
        by_item.setdefault(record.item, []).append(record)
    expected: dict = {}
    for record in labels:
        others = [o.tiers for o in by_item[record.item] if o.annotator != record.annotator]
        if not others:
            continue
        k = sum(len(t) for t in record.tiers)
        reference = pair_votes(majority_ranking(others, k)[0], k)
        mine = pair_votes(record.tiers, k)
        pairs, matches = expected.get(record.annotator, (0, 0))
        expected[record.annotator] = (
            pairs + len(mine),
            matches + sum(mine[p] == reference[p] for p in mine),
        )
    signals = annotator_signals(labels, crowd.skips)
    assert expected and all(
        (signals[who].consensus.pairs, signals[who].consensus.matches) == counts
        for who, counts in expected.items()
    )
    assert all(signals[who].consensus is None for who in signals if who not in expected)


# --- straight-lining ----------------------------------------------------------------------


def test_straight_lining_runs_over_display_rankings_in_time_order():
    same = [[0, 1, 2], [2, 0, 1], [1, 2, 0], [0, 2, 1], [2, 1, 0]]
    labels = [
        label(first_best(same[0]), same[0]),
        label(first_best(same[1]), same[1]),
        label(first_best(same[2])[::-1], same[2]),  # last shown best: breaks the run
        label(first_best(same[3]), same[3]),
        label([[1], [0]], [1, 0]),  # K = 2: neither extends nor breaks a run
        label(first_best(same[4]), same[4]),
        label(first_best(same[0]), same[0]),
    ]
    lining = annotator_signals(labels)["a"].straight_lining
    assert lining == StraightLining(longest_run=3, modal_share=5 / 6, n=6)


def test_modal_share_takes_each_k_on_its_own():
    labels = [
        label(first_best([0, 1, 2]), [0, 1, 2]),
        label(first_best([2, 1, 0]), [2, 1, 0]),
        label(first_best([3, 1, 0, 2]), [3, 1, 0, 2]),
        label([[0], [1], [2], [3]], [1, 0, 2, 3]),
    ]
    lining = annotator_signals(labels)["a"].straight_lining
    # K=3: the same display ranking twice; K=4: one of each. (2 + 1) / 4.
    assert lining.modal_share == pytest.approx(3 / 4) and lining.longest_run == 2


# --- speed, skips, input checks -----------------------------------------------------------


def test_speed_ratio_against_the_project_median_of_label_seconds():
    labels = [label([[0], [1]], [0, 1], who="a", seconds=s) for s in (10, 20, 30)]
    labels += [label([[0], [1]], [1, 0], who="b", seconds=s) for s in (40, 50, None)]
    s = annotator_signals(labels)
    assert s["a"].median_seconds == 20 and s["b"].median_seconds == 45
    assert s["a"].speed_ratio == pytest.approx(20 / 30)
    assert s["b"].speed_ratio == pytest.approx(45 / 30)


def test_skips_and_skip_only_annotators():
    labels = [label([[0], [1]], [0, 1]) for _ in range(3)]
    s = annotator_signals(labels, {"a": 1, "z": 2})
    assert s["a"].skips == 1 and s["a"].skip_rate == pytest.approx(1 / 4)
    assert list(s) == ["a", "z"] and s["z"].labels == 0 and s["z"].skip_rate == 1.0
    assert s["z"].position_bias == PositionBias(None, 0, None)


@pytest.mark.parametrize(
    "bad",
    [
        label([[0], [2]], [0, 1, 2]),  # a position missing
        label([[0], [1], [1]], [0, 1, 2]),  # a position twice
        label([[0], [1], [2]], [0, 1]),  # display order misses a response
        label([[0]], [0]),  # fewer than two responses
    ],
)
def test_labels_that_do_not_describe_the_item_are_refused(bad):
    with pytest.raises(ValueError):
        annotator_signals([bad])


# --- trust --------------------------------------------------------------------------------

GOOD = annotator_signals([label(first_best([0, 1, 2, 3]), [1, 0, 3, 2])])["a"]


def signals_with(
    *,
    labels=50,
    gold=(30, 26),
    consensus=(250, 200),
    ties=0,
    speed=1.0,
    bias=(0.5, 50),
    run=2,
    modal=0.1,
):
    """Signals of an annotator with (decided units, matches) against gold and consensus."""
    first_wins, n = bias
    p_value = binomtest(round(first_wins * n), n, 0.5).pvalue
    return dataclasses.replace(
        GOOD,
        labels=labels,
        speed_ratio=speed,
        median_seconds=30.0 * speed,
        gold=PairAgreement(gold[0], gold[1], gold[0], gold[1], ties) if gold else None,
        consensus=PairAgreement(*consensus[:2], *consensus[:2], ties) if consensus else None,
        position_bias=PositionBias(first_wins, n, p_value),
        straight_lining=StraightLining(run, modal, labels),
    )


def test_chance_is_what_random_clicking_agrees():
    # A clicker who ties τ of the pairs and picks a side at random otherwise matches a
    # decided pair (1 - τ) / 2 of the time: 1/2 without ties, 1/3 with a third of ties.
    for ties in (0, 100):
        matches = (300 - ties) // 2
        score = PairAgreement(300, matches, 300, matches, ties)
        assert shrunk_kappa(score, prior_strength=0.0) == pytest.approx(0.0)
    assert shrunk_kappa(PairAgreement(300, 300, 300, 300, 0), prior_strength=0.0) == 1.0


def test_trust_rises_with_gold_and_consensus_accuracy():
    for field, other, total in (("gold", "consensus", 30), ("consensus", "gold", 250)):
        trusts = [
            annotator_trust(signals_with(**{field: (total, m), other: None})).trust
            for m in range(0, total + 1, total // 10)
        ]
        assert all(a <= b for a, b in zip(trusts, trusts[1:], strict=False))
        assert trusts[0] < PAUSE_BELOW_TRUST <= trusts[-1]


def test_trust_falls_with_speed_position_bias_and_straight_lining():
    speeds = [annotator_trust(signals_with(speed=r)).trust for r in (1.0, 0.5, 0.3, 0.1, 0.02)]
    assert all(a >= b for a, b in zip(speeds, speeds[1:], strict=False)) and speeds[-1] < 0.1
    biases = [annotator_trust(signals_with(bias=(w, 50))).trust for w in (0.5, 0.7, 0.8, 0.9, 1)]
    assert all(a >= b for a, b in zip(biases, biases[1:], strict=False)) and biases[-1] == 0
    lines = [
        annotator_trust(signals_with(run=r, modal=m)).trust
        for r, m in ((2, 0.1), (8, 0.3), (20, 0.6), (50, 1.0))
    ]
    assert all(a >= b for a, b in zip(lines, lines[1:], strict=False)) and lines[-1] == 0


def test_shrinkage_keeps_few_labels_from_condemning():
    # The same coin-flip accuracy: on two labels' worth of pairs trust stays near the prior;
    # on fifty it is low.
    few = annotator_trust(signals_with(labels=2, gold=(12, 6), consensus=None))
    many = annotator_trust(signals_with(labels=50, gold=(300, 150), consensus=None))
    assert few.trust >= PAUSE_BELOW_TRUST > many.trust
    nothing = annotator_trust(signals_with(labels=0, gold=None, consensus=None))
    assert nothing.trust == 1.0


def test_nobody_is_flagged_before_min_labels():
    clicker = signals_with(
        labels=5, gold=(300, 150), consensus=(300, 150), speed=0.05, bias=(1.0, 5), run=5, modal=1.0
    )
    early = annotator_trust(clicker, min_labels=20)
    assert not early.judged and not early.flagged and early.flags == ()
    assert "not judged" in early.reason and early.trust < PAUSE_BELOW_TRUST
    late = annotator_trust(dataclasses.replace(clicker, labels=20), min_labels=20)
    assert late.judged and late.flagged


def test_flags_name_what_pulled_trust_down():
    assert annotator_trust(signals_with()).flags == ()
    assert annotator_trust(signals_with()).reason.endswith("no problem found")
    cases = {
        "low_gold_accuracy": signals_with(gold=(30, 15)),
        "low_agreement": signals_with(consensus=(250, 125)),
        "too_fast": signals_with(speed=0.1),
        "position_bias": signals_with(bias=(0.9, 50)),
        "straight_lining": signals_with(run=12, modal=0.5),
    }
    # Several small shortfalls, none a flag on its own, can still add up to a pause.
    shortfalls = annotator_trust(signals_with(gold=(30, 20), consensus=(250, 170), speed=0.3))
    assert shortfalls.flagged and shortfalls.flags == ()
    assert "several small shortfalls" in shortfalls.reason
    for flag, signals in cases.items():
        trust = annotator_trust(signals)
        assert trust.flags == (flag,), flag
        assert 0.0 <= trust.trust <= 1.0 and not math.isnan(trust.trust)
        assert trust.reason.startswith(f"trust {trust.trust:.2f}: ")
