"""One trust score per annotator, in [0, 1], from the signals of ``annotation.quality.signals``.

How trust is computed (every constant below is a keyword argument of ``annotator_trust``):

1. Accuracy against each reference r (gold; the consensus of the other annotators), over
   the pair units where r prefers one side: m matches out of n. It is shrunk toward a
   prior with the posterior mean of a Beta(s·a0, s·(1 - a0)) prior,
   â = (m + s·a0) / (n + s), a0 = ``prior_accuracy`` = 0.8, s = ``prior_strength`` = 20
   pair units (about three labels of four responses), so a handful of labels moves it
   little and a newcomer starts at full quality.
2. Chance correction: a clicker who ties a share τ of pairs and otherwise picks a side at
   random matches a side the reference prefers with probability c = (1 - τ) / 2 (1/2 when
   ties are rare, 1/3 when a third are ties); τ is the annotator's own tie share on those
   units. κ = (â - c) / (1 - c): 0 at chance, 1 when always right.
3. The two references are averaged by evidence, a gold unit weighing ``gold_weight`` = 2
   consensus units (gold is known, the consensus is other people's noisy votes):
   κ = (w·n_gold·κ_gold + n_cons·κ_cons) / (w·n_gold + n_cons); the prior's κ without either.
   quality = clip(κ / ``kappa_full``, 0, 1), ``kappa_full`` = 0.6 (accuracy 0.8 at chance
   1/2 earns full quality; halfway to it, accuracy 0.65, gives 0.5).
4. trust = quality × speed × position × pattern, each factor in [0, 1]:
   speed = min(1, speed_ratio / (2·``too_fast_below``)), ``too_fast_below`` = 0.25, so
   working 4× faster than the project's median halves trust by itself;
   position = 1 - |2·first_wins - 1| when the binomial p-value of the first-shown bias is
   below ``position_alpha`` = 0.001, else 1 (always-first-shown: 0);
   pattern = 1 - modal_share when the longest run of identical display rankings reaches
   ``straight_run`` = 8 labels, else 1 (the same display ranking every time: 0).

An annotator is judged once they have ``min_labels`` = 20 labels: only then are ``flags``
set and ``flagged`` (trust below ``pause_below_trust`` = 0.5) can be true, so a new
annotator is never paused on two unlucky labels. Flags name what pulled trust down:
``low_gold_accuracy`` / ``low_agreement`` (that reference's quality alone is below the
pause threshold), ``position_bias``, ``too_fast``, ``straight_lining``. Skips are shown but
not scored: skipping an item one cannot judge is what the guidelines ask for. Trust below
``min_labels`` is still computed and shown; it just never pauses anyone.

Sources: the Beta-binomial posterior mean (step 1) is the usual empirical-Bayes shrinkage
of a proportion; step 2 is Cohen's (1960) kappa form (observed - chance) / (1 - chance)
with the chance of a side-blind clicker, who cannot know which stored position is which
since the display is shuffled. The defaults were set on ``crowd_simulation``: with 50
labels each (K = 4, 10% gold, a third of the crowd bad) careful annotators score about
0.6 and up and random, first-shown and too-fast ones about 0.45 and below. With K = 2 a
label is a single pair, so 50 labels cannot tell a random clicker from a careful one.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

from annotation.quality.signals import AnnotatorSignals, PairAgreement

PAUSE_BELOW_TRUST = 0.5
MIN_LABELS = 20

LOW_GOLD_ACCURACY = "low_gold_accuracy"
LOW_AGREEMENT = "low_agreement"
POSITION_BIAS = "position_bias"
TOO_FAST = "too_fast"
STRAIGHT_LINING = "straight_lining"


@dataclass(frozen=True)
class Trust:
    """``quality`` and the three factors multiply into ``trust``; ``kappa_gold`` and
    ``kappa_agreement`` are the shrunk, chance-corrected accuracies (None without that
    reference)."""

    annotator: Hashable
    trust: float
    judged: bool
    flagged: bool
    flags: tuple[str, ...]
    reason: str
    quality: float
    kappa_gold: float | None
    kappa_agreement: float | None
    speed: float
    position: float
    pattern: float


def shrunk_kappa(
    score: PairAgreement | None, *, prior_accuracy: float = 0.8, prior_strength: float = 20.0
) -> float | None:
    """Chance-corrected accuracy on the units where the reference prefers a side, after a
    Beta prior (steps 1-2 of the module docstring). None when no such unit."""
    if score is None or score.decided == 0:
        return None
    accuracy = (score.decided_matches + prior_strength * prior_accuracy) / (
        score.decided + prior_strength
    )
    chance = (1.0 - score.decided_ties / score.decided) / 2.0
    return (accuracy - chance) / (1.0 - chance)


def annotator_trust(
    signals: AnnotatorSignals,
    *,
    pause_below_trust: float = PAUSE_BELOW_TRUST,
    min_labels: int = MIN_LABELS,
    prior_accuracy: float = 0.8,
    prior_strength: float = 20.0,
    gold_weight: float = 2.0,
    kappa_full: float = 0.6,
    too_fast_below: float = 0.25,
    position_alpha: float = 0.001,
    straight_run: int = 8,
) -> Trust:
    """Trust of one annotator from their signals; see the module docstring for the formula."""
    prior = {"prior_accuracy": prior_accuracy, "prior_strength": prior_strength}
    kappa_gold = shrunk_kappa(signals.gold, **prior)
    kappa_agreement = shrunk_kappa(signals.consensus, **prior)
    weights = []
    if kappa_gold is not None:
        weights.append((gold_weight * signals.gold.decided, kappa_gold))
    if kappa_agreement is not None:
        weights.append((float(signals.consensus.decided), kappa_agreement))
    if weights:
        kappa = sum(w * k for w, k in weights) / sum(w for w, _ in weights)
    else:
        kappa = 2.0 * prior_accuracy - 1.0

    def to_quality(value: float) -> float:
        return min(1.0, max(0.0, value / kappa_full))

    quality = to_quality(kappa)
    ratio = signals.speed_ratio
    speed = 1.0 if ratio is None else min(1.0, ratio / (2.0 * too_fast_below))
    bias = signals.position_bias
    biased = bias.p_value is not None and bias.p_value < position_alpha
    position = 1.0 - abs(2.0 * bias.first_wins - 1.0) if biased else 1.0
    lining = signals.straight_lining
    lined = lining.longest_run >= straight_run
    pattern = 1.0 - lining.modal_share if lined else 1.0
    trust = quality * speed * position * pattern

    judged = signals.labels >= min_labels
    flags = []
    if judged:
        if kappa_gold is not None and to_quality(kappa_gold) < pause_below_trust:
            flags.append(LOW_GOLD_ACCURACY)
        if kappa_agreement is not None and to_quality(kappa_agreement) < pause_below_trust:
            flags.append(LOW_AGREEMENT)
        if biased:
            flags.append(POSITION_BIAS)
        if ratio is not None and ratio < too_fast_below:
            flags.append(TOO_FAST)
        if lined:
            flags.append(STRAIGHT_LINING)
    return Trust(
        annotator=signals.annotator,
        trust=trust,
        judged=judged,
        flagged=judged and trust < pause_below_trust,
        flags=tuple(flags),
        reason=_reason(
            signals,
            trust,
            judged,
            flags,
            min_labels,
            pause_below_trust,
            (quality, speed, position, pattern),
        ),
        quality=quality,
        kappa_gold=kappa_gold,
        kappa_agreement=kappa_agreement,
        speed=speed,
        position=position,
        pattern=pattern,
    )


def trust_scores(signals: Mapping[Hashable, AnnotatorSignals], **options) -> dict[Hashable, Trust]:
    """``annotator_trust`` of every annotator, with the same keyword options."""
    return {who: annotator_trust(s, **options) for who, s in signals.items()}


def _reason(
    signals: AnnotatorSignals,
    trust: float,
    judged: bool,
    flags: list[str],
    min_labels: int,
    pause_below_trust: float,
    factors: tuple[float, float, float, float],
) -> str:
    if not judged:
        return f"trust {trust:.2f}, not judged yet: {signals.labels} of {min_labels} labels needed"
    parts = []
    if LOW_GOLD_ACCURACY in flags:
        g = signals.gold
        parts.append(f"matches gold on {g.decided_matches} of {g.decided} pairs")
    if LOW_AGREEMENT in flags:
        c = signals.consensus
        parts.append(f"matches the other annotators on {c.decided_matches} of {c.decided} pairs")
    if POSITION_BIAS in flags:
        b = signals.position_bias
        parts.append(
            f"ranks the first-shown response above the second in "
            f"{b.first_wins:.0%} of {b.n} labels (p = {b.p_value:.1g})"
        )
    if TOO_FAST in flags:
        parts.append(
            f"median {signals.median_seconds:.1f} s per task, "
            f"{signals.speed_ratio:.2f}× the project's median"
        )
    if STRAIGHT_LINING in flags:
        s = signals.straight_lining
        parts.append(
            f"the same display ranking {s.longest_run} times in a row "
            f"({s.modal_share:.0%} of {s.n} labels)"
        )
    if not parts and trust < pause_below_trust:
        quality, speed, position, pattern = factors
        return (
            f"trust {trust:.2f}: below {pause_below_trust:g} from several small shortfalls "
            f"(quality {quality:.2f} × speed {speed:.2f} × position {position:.2f} × "
            f"pattern {pattern:.2f})"
        )
    if not parts:
        return f"trust {trust:.2f}: no problem found"
    return f"trust {trust:.2f}: " + "; ".join(parts)
