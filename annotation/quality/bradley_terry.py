"""Bradley–Terry consensus of several rankings of one item, in numpy/scipy only (no Django).

Each response i has a strength γ_i = exp(θ_i), and i beats j with probability
P(i ≻ j) = γ_i / (γ_i + γ_j) = 1 / (1 + exp(θ_j - θ_i)) (Bradley & Terry 1952). Rankings
(tiers of positions 0..k-1, best first, as in ``annotation.quality.consensus``) are broken
into their pair outcomes, every pair of every ranking one comparison: with k = 2 this is
the Plackett–Luce likelihood itself; with k > 2 a ranking's pairs are treated as
independent comparisons, which lets a tie enter as a shared win.

Ties: a tie between i and j counts as ``tie_weight`` comparisons won by i plus
``tie_weight`` won by j. With the default ½ a tie is one comparison split evenly; with 1 it
is the same as having seen both orders once each.

The strengths are fitted with the MM iterations of Hunter (2004), "MM algorithms for
generalized Bradley–Terry models", Annals of Statistics 32(1), section 2, with the
regularising pseudo-count ``alpha`` of ``choix.mm_pairwise``:

    γ_i ← (W_i + α) / (Σ_j N_ij / (γ_i + γ_j) + α)

W_i the wins of i, N_ij the comparisons of i with j, γ rescaled to mean 1 after every
step. The fixed point maximises the log-likelihood plus a log Gamma(1 + α, rate α) prior
on every γ_i (the gamma prior of Caron & Doucet 2012, "Efficient Bayesian inference for
generalized Bradley–Terry models"),

    Σ_i (W_i + α) log γ_i - Σ_{i<j} N_ij log(γ_i + γ_j) - α Σ_i γ_i,

whose maximum has mean γ exactly 1. ``alpha`` > 0 keeps a response that wins everything at a
finite strength (with ``alpha`` = 0 it has none, and the fit is refused).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

Tiers = list[list[int]]


def _tier_indices(rankings: Sequence[Sequence[Sequence[int]]], k: int) -> np.ndarray:
    """rankings × k array: the tier (0 = best) of each position in each ranking."""
    if not rankings:
        raise ValueError("Bradley–Terry consensus needs at least one ranking")
    tier_of = np.full((len(rankings), k), -1)
    for r, tiers in enumerate(rankings):
        flat = [pos for tier in tiers for pos in tier]
        if sorted(flat) != list(range(k)):
            raise ValueError(f"ranking {r} does not name each of the positions 0..{k - 1} once")
        for t, tier in enumerate(tiers):
            tier_of[r, list(tier)] = t
    return tier_of


def pair_wins(rankings: Sequence[Sequence[Sequence[int]]], k: int, *,
              tie_weight: float = 0.5) -> np.ndarray:
    """k × k matrix: entry (i, j) is how many comparisons i won against j over the rankings,
    a tie counting ``tie_weight`` for each side; the diagonal is 0."""
    if tie_weight < 0:
        raise ValueError("tie_weight must be at least 0")
    tier_of = _tier_indices(rankings, k)
    better = tier_of[:, :, None] < tier_of[:, None, :]  # rankings × k × k
    tied = tier_of[:, :, None] == tier_of[:, None, :]
    wins = better.sum(axis=0) + tie_weight * tied.sum(axis=0)
    np.fill_diagonal(wins, 0.0)
    return wins.astype(float)


def _normalised_weights(params: np.ndarray) -> np.ndarray:
    # choix's exp_transform: the same γ, scaled to mean 1; the pseudo-count α is added on
    # this scale, so it must match for the MAP estimate to be the same.
    weights = np.exp(params - params.mean())
    return weights * (weights.size / weights.sum())


def _strongly_connected(wins: np.ndarray) -> bool:
    count, _ = connected_components(sparse.csr_matrix(wins > 0), directed=True,
                                    connection="strong")
    return count == 1


def strengths_from_wins(wins: np.ndarray, *, alpha: float = 0.1, max_iter: int = 10_000,
                        tol: float = 1e-10) -> np.ndarray:
    """Log-strengths θ (mean 0) fitted to a k × k win matrix by Hunter's (2004) MM
    iterations; ``alpha`` = 0 gives the maximum-likelihood estimate. Stops when the L1
    change of θ between two steps is at most ``tol`` · k (the test of ``choix``), or after
    ``max_iter`` steps, returning the last iterate."""
    wins = np.asarray(wins, dtype=float)
    if wins.ndim != 2 or wins.shape[0] != wins.shape[1]:
        raise ValueError("expected a k × k win matrix")
    if alpha < 0:
        raise ValueError("alpha must be at least 0")
    if alpha == 0 and not _strongly_connected(wins):
        # Without the prior the likelihood has a maximum only when every response beats,
        # directly or through others, every other one (Hunter 2004, Assumption 1, after Ford 1957).
        raise ValueError("with alpha=0 every response must beat every other one through "
                         "some chain of wins; use alpha > 0")
    k = wins.shape[0]
    if k < 2:
        return np.zeros(k)
    won = wins.sum(axis=1)
    comparisons = wins + wins.T
    params = np.zeros(k)
    for _ in range(max_iter):
        weights = _normalised_weights(params)
        denominators = (comparisons / (weights[:, None] + weights[None, :])).sum(axis=1)
        step = np.log((won + alpha) / (denominators + alpha))
        step -= step.mean()
        change = np.abs(step - params).sum()
        params = step
        if change <= tol * k:
            break
    return params


def bradley_terry_strengths(rankings: Sequence[Sequence[Sequence[int]]], k: int, *,
                            tie_weight: float = 0.5, alpha: float = 0.1,
                            max_iter: int = 10_000, tol: float = 1e-10) -> np.ndarray:
    """N rankings of the positions ``0..k-1`` (tiers, best first) → the k log-strengths θ,
    centred to mean 0 (``choix``'s convention); higher is better.

    A tie counts ``tie_weight`` of a win for each side (see the module docstring);
    ``alpha`` is the regularising pseudo-count of ``choix.mm_pairwise``."""
    wins = pair_wins(rankings, k, tie_weight=tie_weight)
    return strengths_from_wins(wins, alpha=alpha, max_iter=max_iter, tol=tol)


def win_probabilities(strengths: np.ndarray) -> np.ndarray:
    """k × k matrix of P(i ≻ j) = 1 / (1 + exp(θ_j - θ_i)) under the model."""
    theta = np.asarray(strengths, dtype=float)
    return 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))


def bradley_terry_ranking(rankings: Sequence[Sequence[Sequence[int]]], k: int, *,
                          tier_tol: float = 1e-6, **kw) -> tuple[Tiers, float]:
    """N rankings of the positions ``0..k-1`` → one tier ranking by fitted strength and its
    confidence in [0, 1]. Keywords other than ``tier_tol`` go to
    ``bradley_terry_strengths``.

    Tiers: positions sorted by θ, best first; a position whose θ is within ``tier_tol`` of
    the previous one's joins its tier (so rankings that tie everything, or split evenly,
    give one tier).

    Confidence: the mean over the pairs i < j of how clear the consensus is on that pair.
    For a pair in two tiers it is 2P - 1, P = 1 / (1 + exp(θ_worse - θ_better)) the model
    probability that the better-tiered response wins: 0 for a coin flip, towards 1 as
    agreeing rankings accumulate (``alpha`` keeps one ranking from reaching 1). For a pair
    in one tier the model has nothing to say (P = ½ whether the rankings tied the pair or
    split on it), so it is the share of the rankings that tie the pair: a tie every
    ranking states is clear, one that comes from a split vote is not. 1.0 when k < 2.
    """
    theta = bradley_terry_strengths(rankings, k, **kw)
    order = np.argsort(-theta, kind="stable")
    tiers: Tiers = []
    previous = None
    for pos in order:
        if previous is not None and previous - theta[pos] <= tier_tol:
            tiers[-1].append(int(pos))
        else:
            tiers.append([int(pos)])
        previous = theta[pos]
    tiers = [sorted(tier) for tier in tiers]
    if k < 2:
        return tiers, 1.0

    tier_of = np.empty(k, dtype=int)
    for t, tier in enumerate(tiers):
        tier_of[tier] = t
    i, j = np.triu_indices(k, 1)
    split = tier_of[i] != tier_of[j]
    clarity = np.abs(2.0 * win_probabilities(theta)[i, j] - 1.0)
    given = _tier_indices(rankings, k)
    tie_share = (given[:, i] == given[:, j]).mean(axis=0)
    clarity = np.where(split, clarity, tie_share)
    return tiers, float(clarity.mean())
