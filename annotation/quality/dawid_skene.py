"""Dawid–Skene consensus over response pairs, in numpy only (no Django).

Dawid & Skene (1979), "Maximum likelihood estimation of observer error-rates using the EM
algorithm", Applied Statistics 28(1): each unit u has an unknown true class z_u drawn from
the priors p, and rater r, shown a unit of true class c, gives label l with probability
π_r[c, l] (the rater's confusion matrix, row = true class, column = given label). EM
alternates

    M step  π_r[c, l] ∝ Σ_{labels (u, r, l)} T_u[c],       p_c = mean over units of T_u[c]
    E step  T_u[c] ∝ p_c · Π_{labels (u, r, l)} π_r[c, l]   (in log space)

from the soft majority vote T_u[c] = share of u's labels equal to c (as ``crowdkit``'s
``DawidSkene`` starts). Every step is a handful of ``np.bincount`` passes over the flat
label arrays, so memory is O(labels + units × classes + raters × classes²).

For rankings a unit is one response pair (item, i, j), i < j, and a label is one
annotator's pair vote from ``annotation.quality.consensus.pair_votes`` coded as a class:

    0 = "j wins" (vote -1),  1 = "tie" (vote 0),  2 = "i wins" (vote +1)

i.e. class = vote + 1 (``classes_from_votes``), so the classes are ordered like the votes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

J_WINS, TIE, I_WINS = 0, 1, 2
# Floor of a probability before its log, as in crowdkit (_EPS): a class no rater has given
# yet keeps a finite log-probability.
_FLOOR = 1e-10

Tiers = list[list[int]]


def classes_from_votes(votes) -> np.ndarray:
    """Pair votes -1 / 0 / +1 → classes 0 ("j wins") / 1 ("tie") / 2 ("i wins")."""
    votes = np.asarray(votes)
    if votes.size and (votes.min() < -1 or votes.max() > 1):
        raise ValueError("a pair vote is -1, 0 or +1")
    return votes.astype(np.int64) + 1


def votes_from_classes(classes) -> np.ndarray:
    """Classes 0 / 1 / 2 → pair votes -1 / 0 / +1."""
    return np.asarray(classes, dtype=np.int64) - 1


def pairs_of(k: int) -> np.ndarray:
    """The pairs (i, j), i < j, of k responses as a P × 2 array, in ``pair_votes`` order."""
    i, j = np.triu_indices(k, 1)
    return np.column_stack([i, j])


@dataclass(frozen=True)
class DawidSkeneFit:
    posteriors: np.ndarray  # units × classes: P(true class | labels); each row sums to 1
    confusion: np.ndarray  # raters × classes × classes: [r, true, given], rows sum to 1
    priors: np.ndarray  # classes
    iterations: int  # EM iterations run (M step + E step each)
    converged: bool  # the log-likelihood per label rose by less than tol
    log_likelihood: float  # log P(labels | confusion, priors), summed over units


def _as_labels(units, raters, labels, n_units, n_raters, n_classes):
    units = np.asarray(units, dtype=np.int64).ravel()
    raters = np.asarray(raters, dtype=np.int64).ravel()
    labels = np.asarray(labels, dtype=np.int64).ravel()
    if not units.size == raters.size == labels.size:
        raise ValueError("units, raters and labels need one entry per label")
    if n_units is None:
        n_units = int(units.max()) + 1 if units.size else 0
    if n_raters is None:
        n_raters = int(raters.max()) + 1 if raters.size else 0
    for name, values, bound in (("unit", units, n_units), ("rater", raters, n_raters),
                                ("label", labels, n_classes)):
        if values.size and (values.min() < 0 or values.max() >= bound):
            raise ValueError(f"every {name} index must be in 0..{bound - 1}")
    return units, raters, labels, n_units, n_raters


def _majority(units, labels, n_units, n_classes) -> np.ndarray:
    """units × classes soft majority vote; a unit without labels gets the uniform row."""
    counts = np.bincount(units * n_classes + labels, minlength=n_units * n_classes)
    counts = counts.reshape(n_units, n_classes).astype(float)
    per_unit = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, per_unit, out=np.full_like(counts, 1.0 / n_classes),
                     where=per_unit > 0)


def _m_step(posteriors, units, key, labelled, n_raters, n_classes, smoothing):
    """Confusion matrices and priors from the current posteriors."""
    confusion = np.empty((n_raters, n_classes, n_classes))
    for c in range(n_classes):
        # key = rater · classes + given label: one bincount fills π_r[c, ·] for every r.
        counts = np.bincount(key, weights=posteriors[units, c],
                             minlength=n_raters * n_classes)
        confusion[:, c, :] = counts.reshape(n_raters, n_classes)
    confusion += smoothing
    np.maximum(confusion, _FLOOR, out=confusion)
    confusion /= confusion.sum(axis=2, keepdims=True)
    priors = posteriors[labelled].mean(axis=0) if labelled.any() else posteriors.mean(axis=0)
    return confusion, priors


def _e_step(confusion, priors, units, key, n_units):
    """Posteriors (units × classes) and the log-likelihood of the labels."""
    n_classes = priors.size
    log_confusion = np.log(confusion)
    log_joint = np.empty((n_units, n_classes))
    for c in range(n_classes):
        per_label = log_confusion[:, c, :].ravel()[key]
        log_joint[:, c] = np.bincount(units, weights=per_label, minlength=n_units)
    log_joint += np.log(np.maximum(priors, _FLOOR))
    top = log_joint.max(axis=1, keepdims=True)
    log_joint -= top
    np.exp(log_joint, out=log_joint)
    total = log_joint.sum(axis=1, keepdims=True)
    log_likelihood = float(np.sum(np.log(total) + top))
    log_joint /= total
    return log_joint, log_likelihood


def dawid_skene(units, raters, labels, *, n_units: int | None = None,
                n_raters: int | None = None, n_classes: int = 3, max_iter: int = 100,
                tol: float = 1e-5, smoothing: float = 0.01,
                init: str | np.ndarray = "majority") -> DawidSkeneFit:
    """Dawid–Skene EM over flat label arrays: label n says rater ``raters[n]`` gave unit
    ``units[n]`` the class ``labels[n]`` (0..n_classes-1). Counts default to the largest
    index + 1; a unit without labels gets the priors as its posterior.

    ``smoothing`` is a pseudo-count added to every confusion cell before normalising (a
    symmetric Dirichlet prior), so a rater with few labels is not taken as infallible;
    ``smoothing=0`` is crowdkit's ``DawidSkene``, which only floors a cell at 1e-10.
    ``init`` is ``"majority"`` (the soft majority vote) or a units × classes array of
    starting posteriors (e.g. a previous fit's, to continue it on more labels).

    One iteration is an M step then an E step; the fit stops when the log-likelihood per
    label rises by less than ``tol`` (crowdkit stops on the same change of its evidence
    lower bound) or after ``max_iter`` iterations. The returned posteriors are the E step
    of the returned confusion matrices and priors. With the same starting posteriors,
    ``smoothing=0`` and n iterations, ``posteriors`` equal crowdkit's ``probas_`` after
    ``n_iter=n``.
    """
    if smoothing < 0:
        raise ValueError("smoothing must be at least 0")
    units, raters, labels, n_units, n_raters = _as_labels(units, raters, labels, n_units,
                                                          n_raters, n_classes)
    if isinstance(init, str):
        if init != "majority":
            raise ValueError(f"init must be 'majority' or an array, not {init!r}")
        posteriors = _majority(units, labels, n_units, n_classes)
    else:
        posteriors = np.array(init, dtype=float)
        if posteriors.shape != (n_units, n_classes):
            raise ValueError(f"init must be a {n_units} × {n_classes} array")
    key = raters * n_classes + labels
    labelled = np.bincount(units, minlength=n_units) > 0
    per_label = max(units.size, 1)

    previous = -np.inf
    converged = False
    iterations = 0
    confusion, priors, log_likelihood = None, None, -np.inf
    while iterations < max_iter:
        iterations += 1
        confusion, priors = _m_step(posteriors, units, key, labelled, n_raters, n_classes,
                                    smoothing)
        posteriors, log_likelihood = _e_step(confusion, priors, units, key, n_units)
        if (log_likelihood - previous) / per_label < tol:
            converged = True
            break
        previous = log_likelihood
    if confusion is None:  # max_iter=0: the starting posteriors and their M step
        confusion, priors = _m_step(posteriors, units, key, labelled, n_raters, n_classes,
                                    smoothing)
    return DawidSkeneFit(posteriors=posteriors, confusion=confusion, priors=priors,
                         iterations=iterations, converged=converged,
                         log_likelihood=log_likelihood)


def posterior_for(fit: DawidSkeneFit, units, raters, labels, *,
                  n_units: int | None = None) -> np.ndarray:
    """One E step with a fit's confusion matrices and priors: posteriors (units × classes)
    of the given labels, e.g. one item's pairs re-read after a new annotation without
    refitting the project. ``raters`` are indices of the fit; unit indices are local to
    this call (0..n_units-1)."""
    n_raters, n_classes, _ = fit.confusion.shape
    units, raters, labels, n_units, _ = _as_labels(units, raters, labels, n_units, n_raters,
                                                   n_classes)
    posteriors, _ = _e_step(fit.confusion, fit.priors, units, raters * n_classes + labels,
                            n_units)
    return posteriors


def pairs_to_ranking(posteriors, pairs, k: int) -> tuple[Tiers, float]:
    """One item's pair posteriors (P × 3, classes as in the module docstring) and its pairs
    (P × 2, i < j) → tier ranking of the positions 0..k-1 and a confidence.

    Each pair's outcome is its most probable class (+1 "i wins", 0 "tie", -1 "j wins"; when
    "i wins" and "j wins" are equally probable and at least as probable as a tie, the pair
    is a tie). Responses are ordered by Copeland score (wins + ½ ties over the pairs) and
    equal scores share a tier, as ``consensus.majority_ranking`` does. The confidence is the
    mean over the pairs of the posterior probability of the chosen class (1.0 without
    pairs).
    """
    posteriors = np.asarray(posteriors, dtype=float).reshape(-1, 3)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if posteriors.shape[0] != pairs.shape[0]:
        raise ValueError("one posterior row per pair")
    if pairs.size and (pairs.min() < 0 or pairs.max() >= k):
        raise ValueError(f"pair positions must be in 0..{k - 1}")
    chosen = posteriors.argmax(axis=1)
    even = (posteriors[:, J_WINS] == posteriors[:, I_WINS]) & (
        posteriors[:, I_WINS] >= posteriors[:, TIE])
    chosen[even] = TIE
    outcome = votes_from_classes(chosen)
    # Copeland score: 1 for a win, ½ each for a tie.
    score = (np.bincount(pairs[:, 0], weights=(outcome + 1) / 2.0, minlength=k)
             + np.bincount(pairs[:, 1], weights=(1 - outcome) / 2.0, minlength=k))
    tiers = [np.flatnonzero(score == value).tolist() for value in np.unique(score)[::-1]]
    if not pairs.size:
        return tiers, 1.0
    return tiers, float(posteriors[np.arange(len(chosen)), chosen].mean())
