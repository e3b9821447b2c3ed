"""A project's agreement figures from its pair votes, with confidence intervals by
resampling items. Plain numpy (no Django).

Input is *long format*: one row per (pair unit, rater) vote, ``unit``, ``rater`` and
``value`` integer arrays, and ``unit_item`` giving each unit's item. Values are the three
ordered categories of a pair (i, j): 0 = j wins, 1 = tie, 2 = i wins.

Every figure but Cohen's κ and Kendall's W is a ratio of sums over items, so each item is
reduced once to a handful of *sufficient statistics* (its units' coincidences, agreeing rater
pairs and category counts). A bootstrap resample of items is then a weighted sum of those
rows: a thousand resamples of a 100,000-item project cost one matrix product, not a thousand
recomputations. The point estimates are exactly those of :mod:`annotation.quality.agreement`
(tested): Krippendorff's α (nominal, ordinal), percent agreement, and Fleiss' κ in its
form for a varying number of raters per unit (Fleiss 1971 with P_u averaged over units and
p_c pooled over all labels; equal to the original when every unit has as many raters).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

CATEGORIES = 3
# Columns of an item's sufficient statistics.
_O = slice(0, 9)  # coincidence matrix o_ck, flattened
_AGREE, _UNITS = 9, 10  # Σ_u P_u over pairable units, and their number
_N = slice(11, 14)  # category counts n_c over the pairable units' labels
_WIDTH = 14
_BOOT_CHUNK = 64


@dataclass(frozen=True)
class Figures:
    percent_agreement: float
    alpha_nominal: float
    alpha_ordinal: float
    fleiss_kappa: float

    def as_dict(self) -> dict[str, float | None]:
        return {name: _finite(getattr(self, name)) for name in self.__dataclass_fields__}


def _finite(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def unit_counts(unit: np.ndarray, value: np.ndarray, n_units: int) -> np.ndarray:
    """units × categories label counts."""
    flat = np.bincount(unit * CATEGORIES + value, minlength=n_units * CATEGORIES)
    return flat.reshape(n_units, CATEGORIES).astype(float)


def item_statistics(counts: np.ndarray, unit_item: np.ndarray, n_items: int) -> np.ndarray:
    """items × 14 sufficient statistics of the pairable units (two or more labels)."""
    m = counts.sum(axis=1)
    keep = m >= 2
    counts, m, items = counts[keep], m[keep], unit_item[keep]
    # o_ck per unit: (n_c n_k - [c=k] n_c) / (m - 1), Krippendorff (2011) section C.
    outer = counts[:, :, None] * counts[:, None, :]
    outer[:, range(CATEGORIES), range(CATEGORIES)] -= counts
    per_unit = np.empty((counts.shape[0], _WIDTH))
    per_unit[:, _O] = (outer / (m - 1.0)[:, None, None]).reshape(-1, 9)
    per_unit[:, _AGREE] = ((counts * (counts - 1.0)).sum(axis=1)) / (m * (m - 1.0))
    per_unit[:, _UNITS] = 1.0
    per_unit[:, _N] = counts
    stats = np.zeros((n_items, _WIDTH))
    np.add.at(stats, items, per_unit)
    return stats


def _ordinal_delta(marginals: np.ndarray) -> np.ndarray:
    """Krippendorff's ordinal δ²_ck = (Σ_{g=c..k} n_g - (n_c + n_k)/2)², for each row of
    marginals (… × categories) → … × c × k."""
    cum = np.cumsum(marginals, axis=-1)
    c = np.arange(CATEGORIES)
    lo, hi = np.minimum.outer(c, c), np.maximum.outer(c, c)
    before = np.where(lo > 0, cum[..., np.maximum(lo - 1, 0)], 0.0)
    between = cum[..., hi] - before
    half = (marginals[..., :, None] + marginals[..., None, :]) / 2.0
    return (between - half) ** 2


_NOMINAL_DELTA = 1.0 - np.eye(CATEGORIES)


def figures_of(totals: np.ndarray) -> np.ndarray:
    """… × 14 summed statistics → … × 4 figures (percent agreement, α nominal, α ordinal,
    Fleiss κ); NaN where undefined."""
    totals = np.asarray(totals, dtype=float)
    o = totals[..., _O].reshape(*totals.shape[:-1], CATEGORIES, CATEGORIES)
    n_c = o.sum(axis=-1)
    n = n_c.sum(axis=-1)
    expected = n_c[..., :, None] * n_c[..., None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.empty((*totals.shape[:-1], 4))
        out[..., 0] = totals[..., _AGREE] / totals[..., _UNITS]
        for column, delta in ((1, _NOMINAL_DELTA), (2, _ordinal_delta(n_c))):
            observed = (o * delta).sum(axis=(-2, -1))
            chance = (expected * delta).sum(axis=(-2, -1))
            out[..., column] = 1.0 - (n - 1.0) * observed / chance
        labels = totals[..., _N]
        p = labels / labels.sum(axis=-1, keepdims=True)
        chance_agree = (p * p).sum(axis=-1)
        out[..., 3] = (out[..., 0] - chance_agree) / (1.0 - chance_agree)
    return out


def agreement_figures(stats: np.ndarray) -> Figures:
    return Figures(*figures_of(stats.sum(axis=0)).tolist())


def bootstrap_figures(stats: np.ndarray, *, samples: int, confidence: float = 0.95,
                      seed: int = 0) -> dict[str, tuple[float, float] | None]:
    """Percentile intervals of each figure over ``samples`` resamples of the items (rows of
    ``stats``) with replacement (Efron & Tibshirani 1993, ch. 13): items, not pair units,
    are the independent draws, since one item's pairs share its annotators."""
    names = list(Figures.__dataclass_fields__)
    stats = stats[stats[:, _UNITS] > 0]
    if samples <= 0 or stats.shape[0] < 2:
        return dict.fromkeys(names)
    rng = np.random.default_rng(seed)
    n = stats.shape[0]
    draws = []
    for start in range(0, samples, _BOOT_CHUNK):
        size = min(_BOOT_CHUNK, samples - start)
        # Each row: how often each item was drawn in n draws with replacement.
        draws_of = rng.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]
        weights = np.bincount(draws_of.ravel(), minlength=size * n).reshape(size, n)
        weights = weights.astype(float)
        draws.append(figures_of(weights @ stats))
    values = np.concatenate(draws)
    tail = 100 * (1 - confidence) / 2
    out = {}
    for column, name in enumerate(names):
        finite = values[:, column][np.isfinite(values[:, column])]
        out[name] = (None if finite.size == 0 else
                     tuple(float(x) for x in np.percentile(finite, [tail, 100 - tail])))
    return out


def cohen_matrix(unit: np.ndarray, rater: np.ndarray, value: np.ndarray, *, n_units: int,
                 n_raters: int, min_units: int) -> list[tuple[int, int, float | None, int]]:
    """Cohen's κ (unweighted) for every rater pair sharing at least ``min_units`` units:
    ``(a, b, kappa, n)`` with a < b rater indices.

    All 3 × 3 confusion tables at once: with X_c the units × raters indicator of category
    c, table_ab[c, d] = (X_cᵀ X_d)[a, b], nine sparse products (Cohen 1960).
    """
    indicators = [
        sparse.csr_matrix((np.ones(int((value == c).sum())), (unit[value == c], rater[value == c])),
                          shape=(n_units, n_raters))
        for c in range(CATEGORIES)
    ]
    labelled = sum(indicators)
    shared = (labelled.T @ labelled).toarray()
    a_idx, b_idx = np.nonzero(np.triu(shared >= min_units, k=1))
    if a_idx.size == 0:
        return []
    tables = np.empty((a_idx.size, CATEGORIES, CATEGORIES))
    for c in range(CATEGORIES):
        for d in range(CATEGORIES):
            product = (indicators[c].T @ indicators[d]).tocsr()
            tables[:, c, d] = np.asarray(product[a_idx, b_idx]).ravel()
    total = tables.sum(axis=(1, 2))
    observed = np.trace(tables, axis1=1, axis2=2) / total
    chance = (tables.sum(axis=2) * tables.sum(axis=1)).sum(axis=1) / total**2
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (observed - chance) / (1.0 - chance)
    return [(int(a), int(b), _finite(k), int(t))
            for a, b, k, t in zip(a_idx, b_idx, kappa, total, strict=True)]


def kendall_w_items(ranks: np.ndarray) -> np.ndarray:
    """Kendall's W with the tie correction for a stack of items: ``ranks`` is items × K
    responses × m raters of mid-ranks (ties share their average rank). Returns one W per
    item (NaN where every rater tied everything).

    W = 12 S / (m² (K³ - K) - m Σ_j T_j), S = Σ_i (R_i - R̄)², T_j = Σ (t³ - t) over rater
    j's groups of tied responses (Kendall & Babington Smith 1939; Siegel & Castellan 1988).
    """
    ranks = np.asarray(ranks, dtype=float)
    _, k, m = ranks.shape
    totals = ranks.sum(axis=2)
    s = ((totals - totals.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    # Tie groups per rater: a mid-rank shared by t responses contributes t³ - t once.
    same = ranks[:, :, None, :] == ranks[:, None, :, :]
    group_size = same.sum(axis=2)  # items × K × m: size of each response's tie group
    ties = (group_size**2 - 1.0).sum(axis=1)  # Σ over responses of (t² - 1) = Σ groups (t³ - t)
    denominator = m * m * (k**3 - k) - m * ties.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, 12.0 * s / denominator, np.nan)
