"""Bradley–Terry consensus against choix (Hunter's MM and Maystre & Grossglauser's ILSR)."""

from __future__ import annotations

import choix
import numpy as np
import pytest

from annotation.quality.bradley_terry import (
    bradley_terry_ranking,
    bradley_terry_strengths,
    pair_wins,
    win_probabilities,
)
from annotation.quality.consensus import pair_votes


def random_ranking(rng: np.random.Generator, k: int, tie_rate: float) -> list[list[int]]:
    """A random order of 0..k-1 cut into tiers; each gap is a tie with ``tie_rate``."""
    order = [int(p) for p in rng.permutation(k)]
    tiers = [[order[0]]]
    for pos in order[1:]:
        if rng.random() < tie_rate:
            tiers[-1].append(pos)
        else:
            tiers.append([pos])
    return tiers


def choix_pairs(rankings, k: int, *, strict_copies: int = 1) -> list[tuple[int, int]]:
    """(winner, loser) comparisons of the rankings for choix: each strict pair
    ``strict_copies`` times, each tie as both orders once."""
    data = []
    for tiers in rankings:
        for (i, j), vote in pair_votes(tiers, k).items():
            if vote > 0:
                data += [(i, j)] * strict_copies
            elif vote < 0:
                data += [(j, i)] * strict_copies
            else:
                data += [(i, j), (j, i)]
    return data


def random_item(seed: int, tie_rate: float = 0.3):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 8))
    rankings = [random_ranking(rng, k, tie_rate) for _ in range(int(rng.integers(1, 12)))]
    return k, rankings


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("alpha", [0.01, 0.1, 1.0])
def test_a_tie_as_one_win_each_way_matches_choix_mm_pairwise(seed, alpha):
    k, rankings = random_item(seed)
    ours = bradley_terry_strengths(rankings, k, tie_weight=1.0, alpha=alpha, tol=1e-13)
    reference = choix.mm_pairwise(k, choix_pairs(rankings, k), alpha=alpha, tol=1e-13,
                                  max_iter=200_000)
    np.testing.assert_allclose(ours, reference, atol=1e-6)


@pytest.mark.parametrize("seed", range(12))
def test_a_tie_as_half_a_win_each_way_matches_choix_on_doubled_data(seed):
    # With tie_weight ½ the wins W and comparisons N are half those of the data where every
    # strict pair is seen twice and every tie in both orders once; the MM fixed point
    # (W + α) / (D + α) is the same as (2W + 2α) / (2D + 2α), i.e. choix with alpha 2α.
    k, rankings = random_item(seed)
    ours = bradley_terry_strengths(rankings, k, alpha=0.05, tol=1e-13)
    reference = choix.mm_pairwise(k, choix_pairs(rankings, k, strict_copies=2), alpha=0.1,
                                  tol=1e-13, max_iter=200_000)
    np.testing.assert_allclose(ours, reference, atol=1e-6)


@pytest.mark.parametrize("seed", range(8))
def test_the_maximum_likelihood_matches_choix_ilsr(seed):
    # A different algorithm (the stationary distribution of a Markov chain) reaches the same
    # maximum-likelihood estimate when every response beats every other through some chain.
    k, rankings = random_item(seed, tie_rate=0.5)
    rankings = rankings + [[list(range(k))]]  # one all-tie ranking: strongly connected
    ours = bradley_terry_strengths(rankings, k, tie_weight=1.0, alpha=0.0, tol=1e-13)
    reference = choix.ilsr_pairwise(k, choix_pairs(rankings, k), alpha=0.0, tol=1e-13,
                                    max_iter=10_000)
    np.testing.assert_allclose(ours, reference, atol=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_the_fit_is_the_maximum_under_gamma_priors(seed):
    # Stationarity of Σ (W_i + α) log γ_i - Σ_{i<j} N_ij log(γ_i + γ_j) - α Σ γ_i, at the
    # scale where mean γ = 1.
    k, rankings = random_item(seed)
    alpha = 0.3
    wins = pair_wins(rankings, k)
    gamma = np.exp(bradley_terry_strengths(rankings, k, alpha=alpha, tol=1e-13))
    gamma *= k / gamma.sum()
    comparisons = wins + wins.T
    gradient = ((wins.sum(axis=1) + alpha) / gamma
                - (comparisons / (gamma[:, None] + gamma[None, :])).sum(axis=1) - alpha)
    np.testing.assert_allclose(gradient, 0.0, atol=1e-7)


def test_a_response_that_wins_everything_is_finite_first_and_matches_choix():
    rng = np.random.default_rng(5)
    k = 5
    rankings = []
    for _ in range(6):
        rest = random_ranking(rng, k - 1, 0.3)
        rankings.append([[0]] + [[p + 1 for p in tier] for tier in rest])
    ours = bradley_terry_strengths(rankings, k, tie_weight=1.0, alpha=0.1, tol=1e-13)
    reference = choix.mm_pairwise(k, choix_pairs(rankings, k), alpha=0.1, tol=1e-13,
                                  max_iter=200_000)
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, reference, atol=1e-6)
    assert bradley_terry_ranking(rankings, k)[0][0] == [0]
    with pytest.raises(ValueError):
        bradley_terry_strengths(rankings, k, alpha=0.0)


def test_two_responses_are_plackett_luce_as_in_choix_mm_rankings():
    rankings = [[[0], [1]]] * 3 + [[[1], [0]]]
    ours = bradley_terry_strengths(rankings, 2, alpha=0.1, tol=1e-13)
    reference = choix.mm_rankings(2, [[0, 1]] * 3 + [[1, 0]], alpha=0.1, tol=1e-13)
    np.testing.assert_allclose(ours, reference, atol=1e-9)


@pytest.mark.parametrize("n", [1, 3, 10])
def test_n_unanimous_votes_on_two_responses_have_the_closed_form_fixed_point(n):
    # With k = 2 both MM denominators are N / (γ0 + γ1), so γ0 / γ1 = (n + α) / α and the
    # confidence 2P - 1 = n / (n + 2α).
    alpha = 0.1
    theta = bradley_terry_strengths([[[0], [1]]] * n, 2, alpha=alpha)
    assert theta[0] - theta[1] == pytest.approx(np.log((n + alpha) / alpha), abs=1e-8)
    tiers, confidence = bradley_terry_ranking([[[0], [1]]] * n, 2, alpha=alpha)
    assert tiers == [[0], [1]]
    assert confidence == pytest.approx(n / (n + 2 * alpha), abs=1e-8)


@pytest.mark.parametrize("seed", range(6))
def test_relabelling_the_positions_permutes_the_strengths(seed):
    k, rankings = random_item(seed)
    perm = np.random.default_rng(100 + seed).permutation(k)
    relabelled = [[[int(perm[p]) for p in tier] for tier in tiers] for tiers in rankings]
    theta = bradley_terry_strengths(rankings, k)
    theta_relabelled = bradley_terry_strengths(relabelled, k)
    np.testing.assert_allclose(theta_relabelled[perm], theta, atol=1e-9)
    tiers, confidence = bradley_terry_ranking(rankings, k)
    tiers_relabelled, confidence_relabelled = bradley_terry_ranking(relabelled, k)
    assert [sorted(int(perm[p]) for p in tier) for tier in tiers] == tiers_relabelled
    assert confidence_relabelled == pytest.approx(confidence, abs=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_a_unanimous_strict_ranking_reproduces_itself_with_high_confidence(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 7))
    ranking = random_ranking(rng, k, tie_rate=0.0)
    tiers, confidence = bradley_terry_ranking([ranking] * 5, k)
    assert tiers == ranking
    assert confidence > 0.9
    assert confidence > bradley_terry_ranking([ranking], k)[1]


def test_a_unanimous_ranking_with_a_tie_keeps_the_tie():
    tiers, confidence = bradley_terry_ranking([[[2], [0, 1], [3]]] * 4, 4)
    assert tiers == [[2], [0, 1], [3]]
    assert confidence > 0.9


def test_all_ties_give_one_tier_with_full_confidence():
    tiers, confidence = bradley_terry_ranking([[[0, 1, 2, 3]]] * 3, 4)
    assert tiers == [[0, 1, 2, 3]]
    assert confidence == 1.0
    np.testing.assert_allclose(bradley_terry_strengths([[[0, 1, 2, 3]]] * 3, 4), 0.0,
                               atol=1e-12)


def test_an_even_split_and_a_cycle_give_one_tier_with_no_confidence():
    assert bradley_terry_ranking([[[0], [1]], [[1], [0]]], 2) == ([[0, 1]], 0.0)
    cycle = [[[0], [1], [2]], [[1], [2], [0]], [[2], [0], [1]]]
    assert bradley_terry_ranking(cycle, 3) == ([[0, 1, 2]], 0.0)


def test_pair_wins_count_ties_for_both_sides():
    wins = pair_wins([[[2], [0, 1]], [[0], [1], [2]]], 3, tie_weight=0.5)
    np.testing.assert_array_equal(wins, [[0, 1.5, 1], [0.5, 0, 1], [1, 1, 0]])


def test_win_probabilities_are_the_logistic_of_the_strength_difference():
    p = win_probabilities(np.array([0.5, -0.5]))
    assert p[0, 1] == pytest.approx(1 / (1 + np.exp(-1.0)))
    assert p[0, 1] + p[1, 0] == pytest.approx(1.0)


@pytest.mark.parametrize("rankings", [
    [],  # nothing to combine
    [[[0], [1]], [[0], [0]]],  # a position twice
    [[[0], [2]]],  # a foreign position
])
def test_bad_input_is_refused(rankings):
    with pytest.raises(ValueError):
        bradley_terry_strengths(rankings, 2)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        bradley_terry_strengths([[[0], [1]]], 2, tie_weight=-1.0)
    with pytest.raises(ValueError):
        bradley_terry_strengths([[[0], [1]]], 2, alpha=-0.1)
