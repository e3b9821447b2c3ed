"""Per-annotator quality-control signals, in numpy/scipy only (no Django).

Input is a list of ``LabelRecord`` (one label: one annotator's ranking of one item's K
responses, 2 ≤ K ≤ 9) in time order, oldest first, plus the annotator's skip counts. Tiers
hold response *positions* (their order in the stored item), best first, ties within a
tier; ``display_order`` is the list of positions in the order the annotator was shown them.

Every ranking is read through pair units: a label of K responses has K(K-1)/2 units
(i, j), i < j, each voted +1 (i preferred), 0 (tie) or -1 (j preferred), exactly as
``annotation.quality.consensus.pair_votes`` defines them.

Signals (``annotator_signals`` returns one ``AnnotatorSignals`` per annotator):

- ``gold_accuracy``: share of the pair units of gold items where the vote equals the gold's.
- ``agreement``: leave-one-out. For each item the annotator labelled that other annotators
  labelled too, the consensus of the *other annotators'* labels
  (``consensus.majority_ranking``); the share of pair units where the annotator's vote
  equals that consensus's.
- ``median_seconds`` and ``speed_ratio`` = median_seconds / the median of all labels'
  seconds in the input (the project).
- ``position_bias``: over labels whose first- and second-shown responses are not tied, the
  share where the first-shown one is ranked above the second-shown. Display order is
  shuffled, so without a bias that share is 1/2: ``p_value`` is the two-sided exact
  binomial test against 1/2 (``scipy.stats.binomtest``).
- ``tie_rate``: share of all the annotator's pair units voted a tie.
- ``straight_lining``: the labels with K ≥ 3 rewritten as *display rankings* (for each
  display slot s, the tier of the response shown s-th), so "always first shown best" is the
  same display ranking on every item. ``longest_run``: the longest run, in time order, of
  consecutive such labels with the same display ranking (labels with K = 2 or without a
  display order are left out of the sequence: they neither extend nor break a run).
  ``modal_share``: for each K, the count of the annotator's most frequent display ranking
  of that K, summed over K, divided by the number of those labels. A careful annotator's
  display rankings are spread uniformly over the K! orders (the display is shuffled), so
  both stay small; a pattern clicker's are 1.0 and the whole sequence.
- ``skips`` and ``skip_rate`` = skips / (labels + skips).

``gold`` and ``consensus`` keep the counts behind the two shares (and the units where the
reference prefers one side), which ``annotation.quality.trust`` shrinks and corrects for
chance.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

MAX_K = 9


@dataclass(frozen=True)
class LabelRecord:
    """One label. ``display_order`` (positions, first shown first) and ``seconds`` may be
    None where they were not recorded; such a label is left out of the signals that need
    them. ``gold_tiers`` is the known answer when the item is hidden gold."""

    annotator: Hashable
    item: Hashable
    tiers: Sequence[Sequence[int]]
    display_order: Sequence[int] | None
    seconds: float | None
    gold_tiers: Sequence[Sequence[int]] | None = None


@dataclass(frozen=True)
class PairAgreement:
    """An annotator's pair votes compared with a reference (gold, or the consensus of the
    other annotators). ``decided``: units where the reference prefers one side; of those,
    ``decided_matches`` the annotator voted the same side and ``decided_ties`` a tie."""

    pairs: int
    matches: int
    decided: int
    decided_matches: int
    decided_ties: int

    @property
    def share(self) -> float:
        return self.matches / self.pairs


@dataclass(frozen=True)
class PositionBias:
    """``n`` labels whose first two shown responses are not tied; ``first_wins`` the share
    of them ranking the first-shown above the second-shown (None when n = 0)."""

    first_wins: float | None
    n: int
    p_value: float | None


@dataclass(frozen=True)
class StraightLining:
    """Over the ``n`` labels with K ≥ 3 and a display order (see the module docstring)."""

    longest_run: int
    modal_share: float | None
    n: int


@dataclass(frozen=True)
class AnnotatorSignals:
    annotator: Hashable
    labels: int
    gold_labels: int
    gold_accuracy: float | None
    agreement: float | None
    shared_labels: int
    median_seconds: float | None
    speed_ratio: float | None
    position_bias: PositionBias
    tie_rate: float | None
    straight_lining: StraightLining
    skips: int
    skip_rate: float | None
    gold: PairAgreement | None
    consensus: PairAgreement | None


def _tier_matrix(rankings: Sequence[Sequence[Sequence[int]] | None], ks: np.ndarray) -> np.ndarray:
    """labels × MAX_K matrix of each position's tier index (0 = best); -1 past K and on rows
    whose ranking is None."""
    tier_of = np.full((len(rankings), MAX_K), -1, dtype=np.int64)
    for row, (tiers, k) in enumerate(zip(rankings, ks, strict=True)):
        if tiers is None:
            continue
        flat = [p for tier in tiers for p in tier]
        if sorted(flat) != list(range(k)):
            raise ValueError(f"label {row}: tiers must hold each position 0..{k - 1} once")
        t = 0
        for tier in tiers:
            if tier:
                tier_of[row, list(tier)] = t
                t += 1
    return tier_of


def _pair_units(ks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every label's pair units as flat arrays (label, i, j), i < j."""
    labels, first, second = [], [], []
    for k in np.unique(ks):
        rows = np.flatnonzero(ks == k)
        i, j = np.triu_indices(int(k), 1)
        labels.append(np.repeat(rows, i.size))
        first.append(np.tile(i, rows.size))
        second.append(np.tile(j, rows.size))
    return np.concatenate(labels), np.concatenate(first), np.concatenate(second)


def _votes(tier_of: np.ndarray, label: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """+1 when i's tier is better (lower), 0 tied, -1 when j's is."""
    return np.sign(tier_of[label, j] - tier_of[label, i])


def _loo_consensus_votes(
    annotator_index: np.ndarray,
    item_index: np.ndarray,
    ks: np.ndarray,
    unit_label: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    own: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """For each pair unit, the vote of the consensus of the *other annotators'* labels of the
    same item, and whether there are any (per label).

    The rule is ``consensus.majority_ranking``'s: a pair's outcome is the sign of the summed
    votes, responses are ordered by Copeland score (wins + ½ draws) and equal scores share
    a tier, so the consensus prefers i to j exactly when i's score is higher. Computed for
    every leave-one-annotator-out subset at once: the item's vote totals minus the
    annotator's own, which keeps gold items labelled by hundreds linear instead of
    quadratic. Tests check it against ``majority_ranking`` label by label."""
    n_items = int(item_index.max()) + 1
    k_of_item = np.zeros(n_items, dtype=np.int64)
    k_of_item[item_index] = ks
    if np.any(k_of_item[item_index] != ks):
        raise ValueError("labels of one item disagree on its number of responses")
    pairs_per_item = k_of_item * (k_of_item - 1) // 2
    offset = np.r_[0, np.cumsum(pairs_per_item)[:-1]]
    # Index of (i, j) among the item's pairs in triu order: row-major over i < j.
    k = ks[unit_label]
    pair_in_item = i * (2 * k - i - 1) // 2 + (j - i - 1)
    item_pair = offset[item_index[unit_label]] + pair_in_item
    total = np.bincount(item_pair, weights=own, minlength=int(pairs_per_item.sum()))
    mine_key = annotator_index[unit_label] * total.size + item_pair
    _, mine_group = np.unique(mine_key, return_inverse=True)
    mine = np.bincount(mine_group.ravel(), weights=own)[mine_group.ravel()]
    outcome = np.sign(total[item_pair] - mine).astype(np.int64)
    # Twice the Copeland score of each (label, position): 2 per win, 1 per draw.
    score = np.zeros((ks.size, MAX_K), dtype=np.int64)
    np.add.at(score, (unit_label, i), 1 + outcome)
    np.add.at(score, (unit_label, j), 1 - outcome)
    consensus = np.sign(score[unit_label, i] - score[unit_label, j])
    labels_of_item = np.bincount(item_index)
    _, own_group, own_count = np.unique(
        annotator_index * labels_of_item.size + item_index, return_inverse=True, return_counts=True
    )
    has_others = labels_of_item[item_index] > own_count[own_group.ravel()]
    return consensus, has_others


def _pair_agreement(
    mask: np.ndarray, own: np.ndarray, reference: np.ndarray, unit_owner: np.ndarray, n: int
) -> list[PairAgreement | None]:
    def count(selected: np.ndarray) -> np.ndarray:
        return np.bincount(unit_owner[selected], minlength=n)

    decided = mask & (reference != 0)
    pairs = count(mask)
    matches = count(mask & (own == reference))
    n_decided = count(decided)
    decided_matches = count(decided & (own == reference))
    decided_ties = count(decided & (own == 0))
    return [
        PairAgreement(
            int(pairs[a]),
            int(matches[a]),
            int(n_decided[a]),
            int(decided_matches[a]),
            int(decided_ties[a]),
        )
        if pairs[a]
        else None
        for a in range(n)
    ]


def _straight_lining(
    annotator_index: np.ndarray,
    tier_of: np.ndarray,
    ks: np.ndarray,
    displays: Sequence[Sequence[int] | None],
    n: int,
) -> list[StraightLining]:
    rows = np.array(
        [r for r, d in enumerate(displays) if d is not None and ks[r] >= 3], dtype=np.int64
    )
    result = [StraightLining(0, None, 0) for _ in range(n)]
    if rows.size == 0:
        return result
    # Display ranking: column s holds the tier of the response shown s-th (-1 past K).
    slots = np.full((rows.size, MAX_K), -1, dtype=np.int64)
    for out, r in enumerate(rows):
        shown = np.asarray(displays[r], dtype=np.int64)
        slots[out, : shown.size] = tier_of[r, shown]
    _, code = np.unique(slots, axis=0, return_inverse=True)
    code = code.ravel()
    owner = annotator_index[rows]
    # Stable by owner, so each owner's labels stay in time order.
    order = np.argsort(owner, kind="stable")
    owner, code, k = owner[order], code[order], ks[rows][order]
    starts = np.flatnonzero(np.r_[True, (np.diff(owner) != 0) | (np.diff(code) != 0)])
    run_length = np.diff(np.r_[starts, owner.size])
    longest = np.zeros(n, dtype=np.int64)
    np.maximum.at(longest, owner[starts], run_length)
    # Modal count per (owner, K): the largest count of one display ranking in that group,
    # summed over the owner's Ks.
    groups, counts = np.unique(np.stack([owner, k, code]), axis=1, return_counts=True)
    owner_k, group_of = np.unique(groups[0] * (MAX_K + 1) + groups[1], return_inverse=True)
    modal = np.zeros(owner_k.size, dtype=np.int64)
    np.maximum.at(modal, group_of.ravel(), counts)
    modal_sum = np.bincount(owner_k // (MAX_K + 1), weights=modal, minlength=n)
    total = np.bincount(owner, minlength=n)
    for a in np.flatnonzero(total):
        result[a] = StraightLining(int(longest[a]), float(modal_sum[a] / total[a]), int(total[a]))
    return result


def _position_bias(
    annotator_index: np.ndarray,
    tier_of: np.ndarray,
    displays: Sequence[Sequence[int] | None],
    n: int,
) -> list[PositionBias]:
    rows = np.array([r for r, d in enumerate(displays) if d is not None], dtype=np.int64)
    if rows.size:
        first = np.array([displays[r][0] for r in rows], dtype=np.int64)
        second = np.array([displays[r][1] for r in rows], dtype=np.int64)
        diff = tier_of[rows, second] - tier_of[rows, first]
        owner = annotator_index[rows]
        trials = np.bincount(owner[diff != 0], minlength=n)
        wins = np.bincount(owner[diff > 0], minlength=n)
    else:
        trials = wins = np.zeros(n, dtype=np.int64)
    return [
        PositionBias(
            float(wins[a] / trials[a]),
            int(trials[a]),
            float(binomtest(int(wins[a]), int(trials[a]), 0.5).pvalue),
        )
        if trials[a]
        else PositionBias(None, 0, None)
        for a in range(n)
    ]


def _medians(owner: np.ndarray, seconds: np.ndarray, n: int) -> np.ndarray:
    """Median of each annotator's seconds (NaN for one without any), from one sort."""
    order = np.lexsort((seconds, owner))
    owner, seconds = owner[order], seconds[order]
    counts = np.bincount(owner, minlength=n)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    has = counts > 0
    low = (starts + (counts - 1) // 2)[has]
    high = (starts + counts // 2)[has]
    medians = np.full(n, np.nan)
    medians[has] = (seconds[low] + seconds[high]) / 2.0
    return medians


def annotator_signals(
    labels: Sequence[LabelRecord],
    skips: Mapping[Hashable, int] | None = None,
) -> dict[Hashable, AnnotatorSignals]:
    """Signals of every annotator who labelled or skipped, keyed by annotator in order of
    first appearance (labels first, then skip-only annotators). ``labels`` in time order."""
    skips = dict(skips or {})
    annotators: dict[Hashable, int] = {}
    for record in labels:
        annotators.setdefault(record.annotator, len(annotators))
    for who in skips:
        annotators.setdefault(who, len(annotators))
    n = len(annotators)
    if not labels:
        return {who: _empty(who, skips.get(who, 0)) for who in annotators}

    annotator_index = np.array([annotators[r.annotator] for r in labels], dtype=np.int64)
    items: dict[Hashable, int] = {}
    item_index = np.array([items.setdefault(r.item, len(items)) for r in labels], dtype=np.int64)
    ks = np.array([sum(len(t) for t in r.tiers) for r in labels], dtype=np.int64)
    if ks.min() < 2 or ks.max() > MAX_K:
        raise ValueError(f"every label needs 2..{MAX_K} responses")
    displays = [r.display_order for r in labels]
    for row, d in enumerate(displays):
        if d is not None and sorted(d) != list(range(ks[row])):
            raise ValueError(f"label {row}: display_order must hold each position once")

    own_tiers = _tier_matrix([r.tiers for r in labels], ks)
    gold_tiers = _tier_matrix([r.gold_tiers for r in labels], ks)
    has_gold = np.array([r.gold_tiers is not None for r in labels])
    unit_label, i, j = _pair_units(ks)
    unit_owner = annotator_index[unit_label]
    own = _votes(own_tiers, unit_label, i, j)
    consensus, has_consensus = _loo_consensus_votes(
        annotator_index, item_index, ks, unit_label, i, j, own
    )
    gold = _pair_agreement(
        has_gold[unit_label], own, _votes(gold_tiers, unit_label, i, j), unit_owner, n
    )
    agree = _pair_agreement(has_consensus[unit_label], own, consensus, unit_owner, n)
    units = np.bincount(unit_owner, minlength=n)
    ties = np.bincount(unit_owner[own == 0], minlength=n)

    label_count = np.bincount(annotator_index, minlength=n)
    gold_count = np.bincount(annotator_index[has_gold], minlength=n)
    shared_count = np.bincount(annotator_index[has_consensus], minlength=n)
    seconds = np.array([np.nan if r.seconds is None else float(r.seconds) for r in labels])
    timed = ~np.isnan(seconds)
    project_median = float(np.median(seconds[timed])) if timed.any() else None
    medians = _medians(annotator_index[timed], seconds[timed], n)
    bias = _position_bias(annotator_index, own_tiers, displays, n)
    lining = _straight_lining(annotator_index, own_tiers, ks, displays, n)

    result = {}
    for who, a in annotators.items():
        count = int(label_count[a])
        skipped = int(skips.get(who, 0))
        if count == 0:
            result[who] = _empty(who, skipped)
            continue
        median = None if np.isnan(medians[a]) else float(medians[a])
        ratio = median / project_median if median is not None and project_median else None
        result[who] = AnnotatorSignals(
            annotator=who,
            labels=count,
            gold_labels=int(gold_count[a]),
            gold_accuracy=gold[a].share if gold[a] else None,
            agreement=agree[a].share if agree[a] else None,
            shared_labels=int(shared_count[a]),
            median_seconds=median,
            speed_ratio=ratio,
            position_bias=bias[a],
            tie_rate=float(ties[a] / units[a]),
            straight_lining=lining[a],
            skips=skipped,
            skip_rate=skipped / (count + skipped),
            gold=gold[a],
            consensus=agree[a],
        )
    return result


def _empty(who: Hashable, skipped: int) -> AnnotatorSignals:
    return AnnotatorSignals(
        annotator=who,
        labels=0,
        gold_labels=0,
        gold_accuracy=None,
        agreement=None,
        shared_labels=0,
        median_seconds=None,
        speed_ratio=None,
        position_bias=PositionBias(None, 0, None),
        tie_rate=None,
        straight_lining=StraightLining(0, None, 0),
        skips=skipped,
        skip_rate=1.0 if skipped else None,
        gold=None,
        consensus=None,
    )
