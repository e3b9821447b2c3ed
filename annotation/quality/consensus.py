"""Consensus of several rankings of one item, in plain Python (no Django).

A ranking is a list of tiers of response *positions* (0-based, by the responses' order in
the stored item, never the order an annotator was shown), best first; positions in one tier
are tied. Every ranking decomposes into pair votes (i, j), i < j: +1 when i is preferred,
0 for a tie, -1 when j is. Agreement metrics, training data and exports all read rankings
through these functions, so "which side won a pair" has one definition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Tiers = list[list[int]]


def tiers_of_positions(ranking: Sequence[Sequence[object]],
                       position_of: Mapping[int, int]) -> Tiers | None:
    """Tiers of response ids → tiers of positions; None when the ranking does not name every
    response of the item exactly once (a stored label no longer matching its item)."""
    try:
        tiers = [[position_of[int(rid)] for rid in tier] for tier in ranking]
    except (KeyError, TypeError, ValueError):
        return None
    flat = [p for tier in tiers for p in tier]
    if sorted(flat) != list(range(len(position_of))):
        return None
    return [tier for tier in tiers if tier]


def pair_votes(tiers: Sequence[Sequence[int]], k: int) -> dict[tuple[int, int], int]:
    """One ranking → ``{(i, j): +1 | 0 | -1}`` for positions i < j (+1: i is preferred)."""
    tier_of = {pos: t for t, tier in enumerate(tiers) for pos in tier}
    votes = {}
    for i in range(k):
        for j in range(i + 1, k):
            a, b = tier_of[i], tier_of[j]
            votes[(i, j)] = 1 if a < b else -1 if a > b else 0
    return votes


def majority_ranking(rankings: Sequence[Sequence[Sequence[int]]], k: int) -> tuple[Tiers, float]:
    """N rankings of the positions ``0..k-1`` (tiers, best first) → one tier ranking and the
    agreement.

    Each pair (i, j) is decided by the sign of the summed votes (+1 / 0 / -1); a draw is a
    tie. Responses are then ordered by Copeland score (wins + ½ ties over the pairs), and
    equal scores share a tier: with a transitive majority this is exactly the majority
    order, and a cycle becomes a tie instead of an arbitrary order.

    The agreement is the mean over pairs of the share of votes equal to the pair's
    outcome (1.0 for a single ranking): the chance that one annotator's vote on a pair
    matches the consensus, i.e. the human ceiling a model could reach on this item.
    """
    if not rankings:
        raise ValueError("majority_ranking needs at least one ranking")
    all_votes = [pair_votes(r, k) for r in rankings]
    score = [0.0] * k
    agreements = []
    for i in range(k):
        for j in range(i + 1, k):
            votes = [v[(i, j)] for v in all_votes]
            total = sum(votes)
            outcome = (total > 0) - (total < 0)
            agreements.append(sum(1 for v in votes if v == outcome) / len(votes))
            if outcome > 0:
                score[i] += 1
            elif outcome < 0:
                score[j] += 1
            else:
                score[i] += 0.5
                score[j] += 0.5
    tiers: Tiers = []
    for value in sorted(set(score), reverse=True):
        tiers.append([pos for pos in range(k) if score[pos] == value])
    agreement = sum(agreements) / len(agreements) if agreements else 1.0
    return tiers, agreement
