"""How far a judge's stated confidence is from how often it is right.

Expected calibration error as in Guo et al. 2017 ("On Calibration of Modern Neural
Networks", eq. 3): confidences fall into ``bins`` equal-width bins ((m−1)/M, m/M] (0 goes to
the first), and

    ECE = Σ_m |B_m| / n · |accuracy(B_m) − confidence(B_m)|

The inputs are a judge's soft preferences p = P(A is better) and the human outcomes
(1: the human chose A, 0: B; ties are the caller's to drop). By default the comparison is
read symmetrically, as a two-class prediction: the judge picks A when p > 0.5 with
confidence max(p, 1 − p), and is right when the human picked the same. At p = 0.5 exactly
it picks neither and counts as half right, so the score does not depend on which response
was shown as A: ECE(p, y) == ECE(1 − p, 1 − y). With ``symmetric=False`` p itself is read
as the probability that the human chose A (the one-class reliability of P(A), as
scikit-learn's ``calibration_curve`` draws it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ReliabilityBin:
    """One bar of a reliability diagram; an empty bin has count 0 and no means."""

    lower: float
    upper: float
    count: int
    mean_confidence: float | None
    accuracy: float | None


def confidences_and_hits(probabilities, outcomes, symmetric: bool = True):
    """(confidence, hit) arrays: what the judge claimed and how right it was (0, 0.5, 1)."""
    p = np.asarray(probabilities, dtype=float)
    y = np.asarray(outcomes, dtype=float)
    if p.ndim != 1 or p.shape != y.shape:
        raise ValueError(f"probabilities and outcomes must be two flat lists of one length, "
                         f"not shapes {p.shape} and {y.shape}")
    if p.size == 0:
        raise ValueError("no judgements to measure")
    if not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("probabilities must be numbers from 0 to 1")
    if np.any((y != 0) & (y != 1)):
        raise ValueError("outcomes must be 1 (A chosen) or 0 (B chosen)")
    if not symmetric:
        return p, y
    confidence = np.maximum(p, 1 - p)
    hit = np.where(p > 0.5, y, 1 - y)
    hit = np.where(p == 0.5, 0.5, hit)
    return confidence, hit


def bin_index(confidence: np.ndarray, bins: int) -> np.ndarray:
    """The bin of each confidence: ((m−1)/M, m/M], with 0 in the first bin."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, not {bins}")
    edges = np.linspace(0.0, 1.0, bins + 1)
    return np.searchsorted(edges[1:-1], confidence, side="left")


def reliability_diagram(probabilities, outcomes, bins: int = 10,
                        symmetric: bool = True) -> list[ReliabilityBin]:
    """Every bin, empty ones included, in order of confidence: what a chart draws."""
    confidence, hit = confidences_and_hits(probabilities, outcomes, symmetric)
    index = bin_index(confidence, bins)
    edges = np.linspace(0.0, 1.0, bins + 1)
    out = []
    for m in range(bins):
        inside = index == m
        count = int(inside.sum())
        out.append(ReliabilityBin(
            lower=float(edges[m]), upper=float(edges[m + 1]), count=count,
            mean_confidence=float(confidence[inside].mean()) if count else None,
            accuracy=float(hit[inside].mean()) if count else None,
        ))
    return out


def expected_calibration_error(probabilities, outcomes, bins: int = 10,
                               symmetric: bool = True) -> float:
    """Guo et al.'s ECE, 0 (calibrated) to 1."""
    diagram = reliability_diagram(probabilities, outcomes, bins, symmetric)
    total = sum(b.count for b in diagram)
    return float(sum(b.count / total * abs(b.accuracy - b.mean_confidence)
                     for b in diagram if b.count))
