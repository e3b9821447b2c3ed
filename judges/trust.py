"""How far an AI judge's labels can be trusted: position bias and the reliability
diagram's rows. Plain Python (the diagram's binning is :mod:`judges.engine.calibration`);
no Django, so the figures are tested against hand-worked values and scipy.

Position bias (Zheng et al. 2023, §3.3) is the rate at which the response *shown first*
wins. A judge shown the two responses in an order drawn at random per verdict
(:mod:`judges.engine.order`) has no reason to prefer the first one, so without a bias that
rate is 1/2; :func:`binomial_test` says how surprising the observed count is.

- A judge that answers once per comparison (openai): over its decisive verdicts (A or B),
  the share whose winner was the response shown first (``verdict == "A"`` unless the order
  was swapped). p: the exact two-sided binomial test against 1/2.
- A judge that reads both orders itself (local_lm): the mean of P(first shown is better)
  over both orders of every verdict; p: the same test over the orders read, counting
  those where the first shown was preferred (P > 1/2) against those where it was not
  (P < 1/2; exactly 1/2 is left out).
- A reward model scores each response alone: it has no position, so no figure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from fractions import Fraction

from judges.engine.calibration import reliability_diagram

RELATIVE_TOLERANCE = 1 + 1e-7  # as scipy.stats.binomtest: outcomes this close are as likely
BINS = 10
EXACT_UP_TO = 20_000  # trials counted in whole numbers; beyond, log-probabilities
NO_POSITION = "A reward model scores each response alone: it has no position to prefer."
NOTE_SHOWN = ("Share of decisive verdicts won by the response shown first; the order "
              "shown is drawn per verdict. 0.5 is no bias; p: exact two-sided binomial "
              "test against 0.5.")
NOTE_BOTH_ORDERS = ("Mean probability that the response shown first is better, over both "
                    "orders the model reads; p: exact two-sided binomial test of the orders "
                    "where the first shown was preferred, against 0.5.")
NOTE_EMPTY = "No decisive verdict to measure yet."


def binomial_test(successes: int, trials: int, p: float = 0.5) -> float:
    """The exact two-sided binomial p-value: the probability under Binomial(trials, p) of
    an outcome no more likely than ``successes`` (scipy.stats.binomtest's definition)."""
    if not 0 <= successes <= trials or trials < 1:
        raise ValueError(f"need 0 <= successes <= trials and trials >= 1, not "
                         f"{successes} of {trials}")
    if not 0 < p < 1:
        raise ValueError(f"p must be strictly between 0 and 1, not {p}")
    if p == 0.5 and trials <= EXACT_UP_TO:
        # Exact: outcome i has probability comb(n, i) / 2^n, symmetric about n / 2, so the
        # outcomes no more likely than k are both tails beyond min(k, n − k).
        low = min(successes, trials - successes)
        if 2 * low == trials:
            return 1.0
        tail, c = 0, 1
        for i in range(low + 1):
            tail += c
            c = c * (trials - i) // (i + 1)
        return min(1.0, float(Fraction(2 * tail, 2 ** trials)))
    pmf = [math.exp(_log_pmf(i, trials, p)) for i in range(trials + 1)]
    limit = pmf[successes] * RELATIVE_TOLERANCE
    return min(1.0, math.fsum(q for q in pmf if q <= limit))


def _log_pmf(i: int, n: int, p: float) -> float:
    return (math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
            + i * math.log(p) + (n - i) * math.log1p(-p))


def bias(first_shown_won: Sequence[bool], note: str = NOTE_SHOWN) -> dict:
    """``{"first_shown_rate", "n", "p_value", "note"}`` over these outcomes."""
    n = len(first_shown_won)
    if not n:
        return {"first_shown_rate": None, "n": 0, "p_value": None, "note": NOTE_EMPTY}
    wins = sum(bool(won) for won in first_shown_won)
    return {"first_shown_rate": wins / n, "n": n, "p_value": binomial_test(wins, n),
            "note": note}


def bias_of_verdicts(verdicts: Iterable[tuple[str, bool]]) -> dict:
    """Position bias of one-prompt verdicts: ``(verdict, swapped)`` pairs, verdict about
    the item's positions; ties and unparseable answers are left out."""
    return bias([(verdict == "A") != swapped for verdict, swapped in verdicts
                 if verdict in ("A", "B")])


def bias_of_both_orders(order_preferences: Iterable[Sequence[float]]) -> dict:
    """Position bias of a judge that reads both orders: per verdict ``[P(first shown is
    better) as given, the same swapped]``. ``n``: the verdicts; the rate is the mean of
    all the figures; the test counts the orders read that preferred a side."""
    pairs = [tuple(pair) for pair in order_preferences]
    figures = [p for pair in pairs for p in pair]
    if not figures:
        return bias([])
    decided = [p > 0.5 for p in figures if p != 0.5]
    return {"first_shown_rate": math.fsum(figures) / len(figures), "n": len(pairs),
            "p_value": binomial_test(sum(decided), len(decided)) if decided else None,
            "note": NOTE_BOTH_ORDERS}


def reliability(preferences: Sequence[float], a_better: Sequence[int],
                bins: int = BINS) -> list[dict]:
    """The reliability diagram of P(A is better) against people's choice (1: A, 0: B; the
    items people tied are the caller's to leave out): every bin ``(lower, upper]``, empty
    ones included, with its count, mean predicted P(A) and observed rate of A."""
    if not preferences:
        return []
    return [{"lower": b.lower, "upper": b.upper, "n": b.count,
             "mean_predicted": b.mean_confidence, "observed": b.accuracy}
            for b in reliability_diagram(preferences, a_better, bins, symmetric=False)]
