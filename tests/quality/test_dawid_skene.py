"""Dawid–Skene over pair units against crowdkit, a seeded simulation, and the ranking read
from pair posteriors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene

from annotation.quality.consensus import majority_ranking, pair_votes
from annotation.quality.dawid_skene import (
    I_WINS,
    J_WINS,
    TIE,
    classes_from_votes,
    dawid_skene,
    pairs_of,
    pairs_to_ranking,
    posterior_for,
    votes_from_classes,
)

# crowdkit's pandas calls (inplace=, copy=) warn under pandas 3; they are not ours.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:crowdkit")


def random_labels(seed: int, n_units: int = 200, n_raters: int = 10, n_labels: int = 1000):
    """Labels of raters with accuracies drawn in [0.3, 0.95] (a wrong label is uniform)."""
    rng = np.random.default_rng(seed)
    units = rng.integers(0, n_units, n_labels)
    raters = rng.integers(0, n_raters, n_labels)
    truth = rng.integers(0, 3, n_units)
    accuracy = rng.uniform(0.3, 0.95, n_raters)
    right = rng.random(n_labels) < accuracy[raters]
    labels = np.where(right, truth[units], rng.integers(0, 3, n_labels))
    return units, raters, labels


def crowdkit_fit(units, raters, labels, n_iter: int) -> DawidSkene:
    frame = pd.DataFrame({"task": units, "worker": raters, "label": labels})
    # tol=-inf: run exactly n_iter iterations, whatever the change of the lower bound.
    return DawidSkene(n_iter=n_iter, tol=-np.inf).fit(frame)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n_iter", [1, 3, 25])
def test_posteriors_and_labels_match_crowdkit(seed, n_iter):
    units, raters, labels = random_labels(seed)
    reference = crowdkit_fit(units, raters, labels, n_iter)
    fit = dawid_skene(units, raters, labels, max_iter=n_iter, tol=-np.inf, smoothing=0.0)
    assert fit.iterations == n_iter
    tasks = np.unique(units)
    probas = reference.probas_.reindex(index=tasks, columns=[0, 1, 2]).to_numpy()
    # crowdkit floors only the confusion cells of labels a rater gave; ours floors all of
    # them, which moves a posterior by at most a few 1e-10.
    np.testing.assert_allclose(fit.posteriors[tasks], probas, atol=1e-8)
    predicted = reference.labels_.reindex(tasks).to_numpy()
    np.testing.assert_array_equal(fit.posteriors[tasks].argmax(axis=1), predicted)


@pytest.mark.parametrize("seed", range(3))
def test_confusion_and_priors_match_crowdkit(seed):
    # crowdkit ends an iteration on an M step: its errors_ and priors_ after n iterations
    # are the M step of its (and our) n-th posteriors, i.e. our fit after n + 1.
    units, raters, labels = random_labels(seed)
    reference = crowdkit_fit(units, raters, labels, 7)
    fit = dawid_skene(units, raters, labels, max_iter=8, tol=-np.inf, smoothing=0.0)
    errors = reference.errors_
    for (worker, label), row in errors.iterrows():
        np.testing.assert_allclose(fit.confusion[worker, :, label],
                                   row[[0, 1, 2]].to_numpy(dtype=float), atol=1e-8)
    np.testing.assert_allclose(fit.priors, reference.priors_.reindex([0, 1, 2]).to_numpy(),
                               atol=1e-12)


def test_the_log_likelihood_never_falls_and_the_fit_converges():
    # EM never lowers the likelihood (Dempster, Laird & Rubin 1977, theorem 1).
    units, raters, labels = random_labels(11)
    values = [dawid_skene(units, raters, labels, max_iter=n, tol=-np.inf,
                          smoothing=0.0).log_likelihood for n in range(1, 15)]
    assert np.all(np.diff(values) >= -1e-9)
    fit = dawid_skene(units, raters, labels, max_iter=500, tol=1e-8)
    assert fit.converged and fit.iterations < 500
    np.testing.assert_allclose(fit.posteriors.sum(axis=1), 1.0)
    np.testing.assert_allclose(fit.confusion.sum(axis=2), 1.0)


def test_posterior_for_rereads_one_item_with_the_fit():
    units, raters, labels = random_labels(3)
    fit = dawid_skene(units, raters, labels)
    np.testing.assert_allclose(posterior_for(fit, units, raters, labels), fit.posteriors,
                               atol=1e-12)
    # One item: its three pair units renumbered 0..2.
    item_units = [17, 42, 99]
    mask = np.isin(units, item_units)
    local = np.searchsorted(item_units, units[mask])
    np.testing.assert_allclose(posterior_for(fit, local, raters[mask], labels[mask]),
                               fit.posteriors[item_units], atol=1e-12)


def test_a_unit_without_labels_gets_the_priors():
    units, raters, labels = random_labels(4, n_units=50)
    fit = dawid_skene(units, raters, labels, n_units=60)
    np.testing.assert_allclose(fit.posteriors[55], fit.priors, atol=1e-12)


def test_smoothing_keeps_a_rater_with_one_label_from_being_infallible():
    units, raters, labels = random_labels(6)
    units = np.append(units, 0)
    raters = np.append(raters, raters.max() + 1)
    labels = np.append(labels, 0)
    newcomer = raters[-1]
    sharp = dawid_skene(units, raters, labels, smoothing=0.0).confusion[newcomer]
    smoothed = dawid_skene(units, raters, labels, smoothing=1.0).confusion[newcomer]
    assert smoothed.min() > 0.2 > sharp.min()


def simulate(seed: int, n_units: int = 400, per_unit: int = 5):
    """Pairs with a known truth labelled by 4 careful raters (right 85%, else a uniform
    class), 3 that pick uniformly and 3 that always say "i wins"."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(3, size=n_units, p=[0.4, 0.2, 0.4])
    kind = np.array(["careful"] * 4 + ["random"] * 3 + ["i wins"] * 3)
    raters = np.concatenate([rng.choice(kind.size, size=per_unit, replace=False)
                             for _ in range(n_units)])
    units = np.repeat(np.arange(n_units), per_unit)
    careful = np.where(rng.random(units.size) < 0.85, truth[units],
                       rng.integers(0, 3, units.size))
    labels = np.select([kind[raters] == "careful", kind[raters] == "random"],
                       [careful, rng.integers(0, 3, units.size)], I_WINS)
    return units, raters, labels, truth


@pytest.mark.parametrize("seed", range(5))
def test_dawid_skene_recovers_the_truth_more_often_than_majority_vote(seed):
    units, raters, labels, truth = simulate(seed)
    fit = dawid_skene(units, raters, labels)
    counts = np.bincount(units * 3 + labels, minlength=truth.size * 3).reshape(-1, 3)
    majority = counts.argmax(axis=1)
    ds_accuracy = np.mean(fit.posteriors.argmax(axis=1) == truth)
    majority_accuracy = np.mean(majority == truth)
    assert ds_accuracy > majority_accuracy + 0.05
    # It finds the always-"i wins" raters: given any true class, they say "i wins".
    np.testing.assert_array_less(0.9, fit.confusion[7:, :, I_WINS])


def test_votes_and_classes_convert_both_ways():
    votes = np.array([-1, 0, 1, 1])
    np.testing.assert_array_equal(classes_from_votes(votes), [J_WINS, TIE, I_WINS, I_WINS])
    np.testing.assert_array_equal(votes_from_classes(classes_from_votes(votes)), votes)
    with pytest.raises(ValueError):
        classes_from_votes([2])


def test_pairs_are_in_pair_votes_order():
    assert [tuple(p) for p in pairs_of(4)] == list(pair_votes([[0, 1, 2, 3]], 4))


@pytest.mark.parametrize("seed", range(10))
def test_certain_majority_outcomes_give_the_majority_ranking(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 6))
    rankings = []
    for _ in range(int(rng.integers(1, 6))):
        order = rng.permutation(k).tolist()
        cuts = sorted(rng.choice(np.arange(1, k), size=int(rng.integers(0, k)), replace=False))
        rankings.append([list(map(int, tier)) for tier in np.split(order, cuts)])
    pairs = pairs_of(k)
    totals = np.array([sum(pair_votes(r, k)[tuple(p)] for r in rankings) for p in pairs])
    posteriors = np.eye(3)[classes_from_votes(np.sign(totals))]
    tiers, confidence = pairs_to_ranking(posteriors, pairs, k)
    assert tiers == majority_ranking(rankings, k)[0]
    assert confidence == 1.0


def test_ranking_from_pair_posteriors():
    pairs = pairs_of(3)  # (0, 1), (0, 2), (1, 2)
    posteriors = np.array([
        [0.1, 0.2, 0.7],  # 0 beats 1
        [0.2, 0.2, 0.6],  # 0 beats 2
        [0.3, 0.5, 0.2],  # 1 ties 2
    ])
    tiers, confidence = pairs_to_ranking(posteriors, pairs, 3)
    assert tiers == [[0], [1, 2]]
    assert confidence == pytest.approx((0.7 + 0.6 + 0.5) / 3)


def test_an_even_posterior_is_a_tie_and_a_cycle_one_tier():
    assert pairs_to_ranking([[0.4, 0.2, 0.4]], [[0, 1]], 2) == ([[0, 1]], 0.2)
    cycle = np.array([[0, 0, 1], [1, 0, 0], [0, 0, 1]], dtype=float)  # 0≻1, 2≻0, 1≻2
    assert pairs_to_ranking(cycle, pairs_of(3), 3) == ([[0, 1, 2]], 1.0)


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        dawid_skene([0, 1], [0], [0, 1])
    with pytest.raises(ValueError):
        dawid_skene([0], [0], [3])
    with pytest.raises(ValueError):
        dawid_skene([0], [0], [1], init="uniform")
    with pytest.raises(ValueError):
        pairs_to_ranking([[0, 0, 1]], [[0, 2]], 2)
