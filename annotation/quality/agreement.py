"""Inter-annotator agreement metrics, in numpy/scipy only (no Django).

Data is a 2-D float array of *units × raters* with NaN for a missing label; values are
category codes or numbers. For rankings the units are the response pairs of each item:
``annotation.quality.consensus.pair_votes`` turns one ranking into votes on the pairs
i < j (+1 / 0 / -1), so a unit is an (item, i, j) row and a rater's column holds their
votes, which suits nominal or ordinal Krippendorff's alpha. Whole rankings of one item set
go to ``kendall_w`` instead.

Sources of the formulas are named in each function.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import sparse
from scipy.stats import rankdata

LEVELS = ("nominal", "ordinal", "interval", "ratio")
# Cells of the V × V ratio metric evaluated at once (32 MiB of float64).
_BLOCK_CELLS = 1 << 22


def _as_matrix(data) -> np.ndarray:
    data = np.asarray(data, dtype=float)
    if data.ndim != 2:
        raise ValueError("expected a 2-D units × raters array")
    return data


def _unit_value_counts(data: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """units × distinct-values count matrix (sparse), the sorted distinct values, and the
    number of labels per unit."""
    present = ~np.isnan(data)
    units = np.repeat(np.arange(data.shape[0]), present.sum(axis=1))
    values, inverse = np.unique(data[present], return_inverse=True)
    counts = sparse.csr_matrix(
        (np.ones(units.size), (units, inverse.ravel())), shape=(data.shape[0], values.size)
    )
    counts.sum_duplicates()
    per_unit = np.asarray(counts.sum(axis=1)).ravel()
    return counts, values, per_unit


def _coincidences(data: np.ndarray) -> tuple[sparse.coo_matrix, np.ndarray]:
    """Krippendorff's coincidence matrix o_ck = Σ_u n_uc (n_uk - [c=k]) / (m_u - 1) over the
    pairable units (m_u ≥ 2), kept sparse over the distinct values, and those values.

    Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C.
    """
    counts, values, per_unit = _unit_value_counts(data)
    pairable = per_unit >= 2
    counts = counts[pairable]
    weight = sparse.diags(1.0 / (per_unit[pairable] - 1.0))
    weighted = weight @ counts
    # The diagonal correction removes each label's pairing with itself.
    self_pairs = np.asarray(weighted.sum(axis=0)).ravel()
    coincidence = (counts.T @ weighted).tocoo() - sparse.diags(self_pairs)
    return sparse.coo_matrix(coincidence), values


def _ratio_delta(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    total = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(total == 0, 0.0, (a - b) / total)
    return d * d


def krippendorff_alpha(data, level: str = "nominal") -> float:
    """Krippendorff's alpha of a units × raters array (NaN = missing), at the ``level`` of
    measurement ``nominal``, ``ordinal``, ``interval`` or ``ratio``.

    α = 1 - (n - 1) Σ o_ck δ²_ck / Σ n_c n_k δ²_ck with the coincidences o_ck, the pairable
    value totals n_c and the level's difference function δ² (Krippendorff 2011, sections
    C and E). The coincidences are sparse over the distinct values; the expected term uses
    closed forms for the nominal, ordinal and interval metrics (squared differences expand
    into moments) and row blocks of the V × V ratio metric, whose time is O(V²). NaN when
    no unit has two labels or every pairable label is the same value (alpha is undefined).
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    coincidence, values = _coincidences(_as_matrix(data))
    totals = np.zeros(values.size)
    np.add.at(totals, coincidence.row, coincidence.data)
    n = totals.sum()
    if n <= 1:
        return float("nan")
    row, col, o = coincidence.row, coincidence.col, coincidence.data

    if level == "nominal":
        observed = o[row != col].sum()
        expected = n * n - np.dot(totals, totals)
    else:
        if level == "ordinal":
            # δ²_ck = (Σ_{g=c..k} n_g - (n_c + n_k)/2)², a squared difference of midpoints of
            # the cumulative totals (Krippendorff 2011, section E).
            position = np.cumsum(totals) - totals / 2.0
        else:
            position = values
        if level == "ratio":
            observed = np.dot(o, _ratio_delta(values[row], values[col]))
            step = max(1, _BLOCK_CELLS // values.size)
            expected = sum(
                np.dot(totals[s:s + step],
                       _ratio_delta(values[s:s + step, None], values[None, :]) @ totals)
                for s in range(0, values.size, step)
            )
        else:
            observed = np.dot(o, (position[row] - position[col]) ** 2)
            first = np.dot(totals, position)
            # Σ_ck n_c n_k (x_c - x_k)² = 2 (n Σ n_c x_c² - (Σ n_c x_c)²)
            expected = 2.0 * (n * np.dot(totals, position * position) - first * first)
    if expected <= 0:
        return float("nan")
    return float(1.0 - (n - 1.0) * observed / expected)


def fleiss_kappa(counts) -> float:
    """Fleiss' kappa of an items × categories matrix of how many raters chose each category,
    with the same number of raters on every item.

    κ = (P̄ - P̄_e) / (1 - P̄_e), P_i = (Σ_j n_ij² - n) / (n (n - 1)), P̄_e = Σ_j p_j²
    (Fleiss 1971, "Measuring nominal scale agreement among many raters").
    """
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 2 or counts.shape[0] == 0:
        raise ValueError("expected a non-empty items × categories count matrix")
    raters = counts.sum(axis=1)
    if not np.allclose(raters, raters[0]) or raters[0] < 2:
        raise ValueError("every item needs the same number of raters, at least 2")
    r = raters[0]
    p_category = counts.sum(axis=0) / counts.sum()
    p_item = ((counts * counts).sum(axis=1) - r) / (r * (r - 1.0))
    chance = np.dot(p_category, p_category)
    if chance >= 1.0:
        return float("nan")
    return float((p_item.mean() - chance) / (1.0 - chance))


def cohen_kappa(a, b, weights: str | None = None) -> float:
    """Cohen's kappa of two raters' labels on the same units; units where either label is
    NaN are left out. ``weights`` None (unweighted), ``"linear"`` or ``"quadratic"``: the
    disagreement of categories i, j (ranks of the sorted distinct labels) is |i - j| or
    (i - j)².

    κ = 1 - Σ w_ij o_ij / Σ w_ij e_ij, e = outer product of the marginals (Cohen 1960;
    weighted: Cohen 1968, "Weighted kappa").
    """
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError("both raters need a label slot for every unit")
    shared = ~(np.isnan(a) | np.isnan(b))
    a, b = a[shared], b[shared]
    if a.size == 0:
        return float("nan")
    _, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    inverse = inverse.ravel()
    k = int(inverse.max()) + 1
    observed = np.bincount(inverse[:a.size] * k + inverse[a.size:], minlength=k * k)
    observed = observed.reshape(k, k) / a.size
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    distance = np.abs(np.subtract.outer(np.arange(k), np.arange(k))).astype(float)
    if weights is None:
        w = (distance > 0).astype(float)
    elif weights == "linear":
        w = distance
    elif weights == "quadratic":
        w = distance * distance
    else:
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', not {weights!r}")
    chance = np.sum(w * expected)
    if chance == 0:
        return float("nan")
    return float(1.0 - np.sum(w * observed) / chance)


def kendall_w(ranks) -> float:
    """Kendall's coefficient of concordance W of an *items × raters* matrix: column j holds
    rater j's ranks (or scores, ranked here; ties get average ranks) of the n items.
    Transpose a raters × items matrix first. No missing values.

    W = 12 S / (m² (n³ - n) - m Σ_j T_j), S = Σ_i (R_i - R̄)², T_j = Σ (t³ - t) over the
    tie groups of rater j (Kendall & Babington Smith 1939; tie correction as in Siegel &
    Castellan 1988, "Nonparametric Statistics", 9.4). Equals χ²_F / (m (n - 1)) with the
    tie-corrected Friedman statistic.
    """
    ranks = _as_matrix(ranks)
    if np.isnan(ranks).any():
        raise ValueError("kendall_w needs a complete matrix (no NaN)")
    n, m = ranks.shape
    if n < 2 or m < 1:
        raise ValueError("kendall_w needs at least 2 items and 1 rater")
    ranks = rankdata(ranks, axis=0)
    totals = ranks.sum(axis=1)
    s = np.sum((totals - totals.mean()) ** 2)
    # Midranks lower Σ r² by Σ (t³ - t) / 12 below n(n+1)(2n+1)/6 (a tie group's variance).
    ties = 12.0 * (n * (n + 1) * (2 * n + 1) / 6.0 * m - np.sum(ranks * ranks))
    denominator = m * m * (n**3 - n) - m * ties
    if denominator <= 0:
        return float("nan")
    return float(12.0 * s / denominator)


def percent_agreement(data) -> float:
    """Mean, over units with at least 2 labels, of the share of rater pairs whose labels are
    equal: Σ_c n_uc (n_uc - 1) / (m_u (m_u - 1)) per unit. NaN when no unit qualifies."""
    counts, _, per_unit = _unit_value_counts(_as_matrix(data))
    pairable = per_unit >= 2
    if not pairable.any():
        return float("nan")
    counts = counts[pairable]
    m = per_unit[pairable]
    agreeing = np.asarray(counts.multiply(counts).sum(axis=1)).ravel() - m
    return float(np.mean(agreeing / (m * (m - 1.0))))


def bootstrap_ci(statistic: Callable[[np.ndarray], float], data, n: int = 1000,
                 alpha: float = 0.05, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval (1 - alpha) of ``statistic(data)``, resampling rows
    (units, or items for count and rank matrices) with replacement (Efron & Tibshirani
    1993, "An Introduction to the Bootstrap", ch. 13). Resamples where the statistic is
    NaN are dropped. For two-rater statistics pass e.g.
    ``lambda d: cohen_kappa(d[:, 0], d[:, 1])`` over a units × 2 array.
    """
    data = np.asarray(data, dtype=float)
    if data.shape[0] == 0:
        raise ValueError("bootstrap_ci needs at least one row")
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, data.shape[0], size=(n, data.shape[0]))
    stats = np.array([statistic(data[r]) for r in rows], dtype=float)
    stats = stats[~np.isnan(stats)]
    if stats.size == 0:
        return float("nan"), float("nan")
    low, high = np.percentile(stats, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)
