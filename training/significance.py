"""How sure a comparison of reward models is: Wilson intervals and the paired sign test.

Plain Python (no Django, no torch), so that the models page can show an interval without
loading the trainer. ``paired_decision`` is the rule :func:`training.registry.decide` applies
to a new reward model: both models judge the same preference pairs, pairs that neither was
trained on, and the exact sign test over the pairs where they disagree says whether the
difference is more than chance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile
MIN_EVAL_PAIRS = 30  # fewer held-out pairs cannot tell two models apart reliably
ALPHA = 0.05


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (Wilson 1927): the centre
    (p + z²/2n) / (1 + z²/n) ± z / (1 + z²/n) · sqrt(p(1 − p)/n + z²/4n²). Sound for small n
    and for p at 0 or 1, where the normal interval collapses."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided sign test (binomial, p = ½) of ``wins`` against ``losses``; ties are
    left out by the caller. 1.0 when there is nothing to test."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


@dataclass
class Paired:
    """Two models' outcomes on the same pairs: 1 right, 0 wrong, ½ a tie of rewards."""

    new: Sequence[float]
    old: Sequence[float]

    @property
    def n(self) -> int:
        return len(self.new)

    @property
    def accuracy(self) -> float | None:
        return sum(self.new) / self.n if self.n else None

    @property
    def active_accuracy(self) -> float | None:
        return sum(self.old) / self.n if self.n else None

    @property
    def new_better(self) -> int:
        return sum(1 for a, b in zip(self.new, self.old, strict=True) if a > b)

    @property
    def active_better(self) -> int:
        return sum(1 for a, b in zip(self.new, self.old, strict=True) if a < b)

    @property
    def p_value(self) -> float:
        return sign_test(self.new_better, self.active_better)


def paired_decision(
    *,
    paired: Paired,
    new_name: str,
    active_name: str,
    new_labels: int,
    active_labels: int,
    min_improvement: float,
    min_pairs: int = MIN_EVAL_PAIRS,
) -> tuple[bool, str, dict]:
    """(activate, reason, details). With at least ``min_pairs`` pairs the held-out
    accuracies decide (the new one must reach the active one's plus ``min_improvement``).
    With fewer the evidence is too thin to prefer the older model: the new one, which
    learned from at least as many labels, goes live unless the sign test says it is worse
    (p < 0.05) or the project asks for a gain it does not show."""
    n, p = paired.n, paired.p_value
    acc, old = paired.accuracy, paired.active_accuracy
    details = {
        "method": "paired sign test",
        "n_pairs": n,
        "min_pairs": min_pairs,
        "accuracy": acc,
        "active_accuracy": old,
        "new_better": paired.new_better,
        "active_better": paired.active_better,
        "p_value": p,
        "labels": new_labels,
        "active_labels": active_labels,
    }
    shown = f"accuracy {acc:.2f} vs {old:.2f}, sign test p={p:.2f}" if n else "no pair to compare"
    gain = n > 0 and acc >= old + min_improvement - 1e-12
    too_few = f"too few pairs to compare ({n} held out from both, needs {min_pairs})"
    if n >= min_pairs:
        activate = gain
        measured = f"held-out accuracy {acc:.2f} vs {old:.2f} on {n} pairs, paired sign test"
        reason = (
            f"activated {new_name}: {measured} p={p:.2f}"
            if gain
            else f"kept {active_name}: {measured} p={p:.2f} (needs +{min_improvement:g})"
        )
        return activate, reason, details
    details["method"] = "too few pairs, so the model with more labels unless significantly worse"
    if p < ALPHA and paired.active_better > paired.new_better:
        activate = False
        reason = (
            f"kept {active_name}: the new model is significantly worse on {n} pairs held "
            f"out from both ({shown})"
        )
    elif min_improvement > 0 and not gain:
        activate = False
        reason = (
            f"kept {active_name}: {shown} on {n} pairs held out from both "
            f"(needs +{min_improvement:g})"
        )
    elif new_labels < active_labels:
        activate = False
        reason = (
            f"kept {active_name}: {too_few} and the new model learned from fewer labels "
            f"({new_labels} vs {active_labels})"
        )
    else:
        activate = True
        more = "more" if new_labels > active_labels else "as many"
        reason = (
            f"activated {new_name}: {too_few}; learned from {more} labels ({new_labels} vs "
            f"{active_labels}), not significantly worse ({shown})"
        )
    return activate, reason, details
