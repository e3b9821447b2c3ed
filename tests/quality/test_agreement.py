"""Agreement metrics against published examples and reference implementations."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from scipy.stats import friedmanchisquare

from annotation.quality.agreement import (
    LEVELS,
    bootstrap_ci,
    cohen_kappa,
    fleiss_kappa,
    kendall_w,
    krippendorff_alpha,
    percent_agreement,
)

nan = np.nan

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section E: coders
# A-D (rows) × 12 units (columns).
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
])
PUBLISHED_2011 = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}

# Fleiss (1971) as tabulated on Wikipedia, "Fleiss' kappa": 10 items × 5 categories,
# 14 raters per item.
FLEISS_1971 = np.array([
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
])


def _reference_alpha(units_by_raters: np.ndarray, level: str) -> float:
    return krippendorff.alpha(reliability_data=units_by_raters.T, level_of_measurement=level)


def _random_labels(shape, categories, missing, seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(1, categories + 1, shape).astype(float)
    data[rng.random(shape) < missing] = nan
    return data


@pytest.mark.parametrize("level", LEVELS)
def test_krippendorff_2011_example(level):
    ours = krippendorff_alpha(KRIPPENDORFF_2011.T, level)
    assert ours == pytest.approx(_reference_alpha(KRIPPENDORFF_2011.T, level), abs=1e-12)
    assert ours == pytest.approx(PUBLISHED_2011[level], abs=5e-4)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_krippendorff_matches_reference_on_random_data_with_missing_values(level, seed):
    data = _random_labels((60, 5), categories=5, missing=0.35, seed=seed)
    # Correlated raters, so alpha is far from 0 and the comparison is not trivially ~0.
    truth = np.random.default_rng(seed + 10).integers(1, 6, (60, 1)).astype(float)
    data = np.where(np.random.default_rng(seed + 20).random(data.shape) < 0.6,
                    np.where(np.isnan(data), nan, truth), data)
    assert krippendorff_alpha(data, level) == pytest.approx(_reference_alpha(data, level),
                                                            abs=1e-10)


@pytest.mark.parametrize("level", LEVELS)
def test_krippendorff_on_continuous_values(level):
    rng = np.random.default_rng(3)
    data = rng.gamma(2.0, size=(40, 1)) + rng.normal(scale=0.5, size=(40, 4)) ** 2
    data[rng.random(data.shape) < 0.2] = nan
    assert krippendorff_alpha(data, level) == pytest.approx(_reference_alpha(data, level),
                                                            abs=1e-10)


def test_krippendorff_on_200k_labels_runs_and_a_slice_matches_reference():
    data = _random_labels((50_000, 4), categories=7, missing=0.1, seed=4)
    for level in LEVELS:
        assert -1.0 <= krippendorff_alpha(data, level) <= 1.0
    part = data[:2_000]
    for level in LEVELS:
        assert krippendorff_alpha(part, level) == pytest.approx(_reference_alpha(part, level),
                                                                abs=1e-10)


def test_krippendorff_perfect_agreement_and_undefined_cases():
    data = np.array([[1, 1, nan], [2, 2, 2], [3, nan, 3]], dtype=float)
    assert krippendorff_alpha(data) == pytest.approx(1.0)
    assert np.isnan(krippendorff_alpha(np.array([[1.0, nan], [2.0, nan]])))
    assert np.isnan(krippendorff_alpha(np.ones((3, 2))))
    with pytest.raises(ValueError):
        krippendorff_alpha(data, "cardinal")


def test_fleiss_1971_example():
    assert fleiss_kappa(FLEISS_1971) == pytest.approx(0.210, abs=5e-4)


def test_fleiss_rejects_unequal_rater_counts():
    with pytest.raises(ValueError):
        fleiss_kappa([[1, 1], [2, 1]])


def test_fleiss_equals_krippendorff_nominal_up_to_sample_size_correction():
    # With r raters on all N items, α_nominal = 1 - (N r - 1)/(N r) · (1 - κ_Fleiss)
    # (both compare the same observed and expected pair disagreement).
    labels = _random_labels((30, 4), categories=3, missing=0.0, seed=5)
    counts = np.stack([(labels == c).sum(axis=1) for c in (1, 2, 3)], axis=1)
    nr = labels.size
    expected = 1 - (nr - 1) / nr * (1 - fleiss_kappa(counts))
    assert krippendorff_alpha(labels) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
@pytest.mark.parametrize("seed", [0, 1])
def test_cohen_matches_sklearn(weights, seed):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 5, 80)
    b = np.where(rng.random(80) < 0.6, a, rng.integers(0, 5, 80))
    ours = cohen_kappa(a, b, weights)
    assert ours == pytest.approx(metrics.cohen_kappa_score(a, b, weights=weights), abs=1e-12)


def test_cohen_hand_example_and_missing_units():
    # 2 × 2 table [[20, 5], [10, 15]]: p_o = 0.7, p_e = 0.5·0.6 + 0.5·0.4 = 0.5, κ = 0.4.
    a = np.array([1] * 25 + [2] * 25 + [nan], dtype=float)
    b = np.array([1] * 20 + [2] * 5 + [1] * 10 + [2] * 15 + [1], dtype=float)
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    # With two categories every weighting is the same.
    assert cohen_kappa(a, b, "quadratic") == pytest.approx(0.4)
    with pytest.raises(ValueError):
        cohen_kappa(a, b, "cubic")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kendall_w_equals_friedman_without_ties(seed):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(8, 1))
    scores = base + rng.normal(scale=0.8, size=(8, 5))
    ranks = np.argsort(np.argsort(scores, axis=0), axis=0) + 1.0
    n, m = ranks.shape
    chi2 = friedmanchisquare(*ranks).statistic
    assert kendall_w(ranks) == pytest.approx(chi2 / (m * (n - 1)), abs=1e-12)


def test_kendall_w_tie_correction_matches_friedman():
    ranks = np.array([[1, 1.5, 2], [2, 1.5, 2], [3, 3, 2], [4, 4, 4]], dtype=float)
    n, m = ranks.shape
    chi2 = friedmanchisquare(*ranks).statistic
    assert kendall_w(ranks) == pytest.approx(chi2 / (m * (n - 1)), abs=1e-12)


def test_kendall_w_extremes():
    same = np.tile(np.arange(1.0, 6.0)[:, None], (1, 4))
    assert kendall_w(same) == pytest.approx(1.0)
    # Two raters in exactly opposite order: every item's rank total is the same.
    assert kendall_w(np.column_stack([np.arange(1.0, 6.0), np.arange(5.0, 0.0, -1)])) == 0.0
    with pytest.raises(ValueError):
        kendall_w(np.array([[1.0, nan], [2.0, 1.0]]))


def test_percent_agreement():
    data = np.array([
        [1, 1, 1],      # 3 of 3 pairs agree
        [1, 2, nan],    # 0 of 1
        [2, 2, 1],      # 1 of 3
        [3, nan, nan],  # skipped: one label
    ], dtype=float)
    assert percent_agreement(data) == pytest.approx((1 + 0 + 1 / 3) / 3)
    assert np.isnan(percent_agreement(np.array([[1.0, nan]])))


def test_bootstrap_ci_brackets_the_estimate_and_is_reproducible():
    data = _random_labels((200, 3), categories=3, missing=0.1, seed=6)
    truth = np.random.default_rng(7).integers(1, 4, (200, 1)).astype(float)
    data = np.where(np.random.default_rng(8).random(data.shape) < 0.5,
                    np.where(np.isnan(data), nan, truth), data)
    low, high = bootstrap_ci(krippendorff_alpha, data, n=300)
    assert low < krippendorff_alpha(data) < high
    assert (low, high) == bootstrap_ci(krippendorff_alpha, data, n=300)
    pair = bootstrap_ci(lambda d: cohen_kappa(d[:, 0], d[:, 1]), data[:, :2], n=200, seed=1)
    assert pair[0] < cohen_kappa(data[:, 0], data[:, 1]) < pair[1]
