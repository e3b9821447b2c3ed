"""Which response a judge is shown first, and how its answer is read back.

A model that reads both responses in one prompt tends to favour one position (Zheng et
al. 2023, "Judging LLM-as-a-judge", §3.3: position bias). A judge that is always shown the
item's response A first lets that bias pass for a preference of A. So each verdict's
comparisons are shown in an order drawn from SHA-256 of (judge seed, item id, principle
name), as :func:`judges.engine.sampling.choose` draws principles: a rerun, another
process or another machine shows the same order, and across items about half are shown
swapped. The answer is about the order shown; :func:`to_item_order` maps it back, so a
stored verdict and preference are always about the item's positions (A = position 0).

Every principle of one verdict (mode ``"all"``: the names joined by ``"+"``) is shown in
the same order, so the stored verdict has one order shown (``JudgeVerdict.swapped``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace

from judges.engine.types import Comparison, Judgement

FLIPPED = {"A": "B", "B": "A", "tie": "tie", "unparseable": "unparseable"}


def is_swapped(*, seed: int, item_id: int | str, principle: str) -> bool:
    """True when the item's response B is shown first for this verdict."""
    digest = hashlib.sha256(f"{seed}:{item_id}:{principle}".encode()).digest()
    return bool(digest[0] & 1)


def shown(comparison: Comparison, swapped: bool) -> Comparison:
    """The comparison as the judge reads it."""
    if not swapped:
        return comparison
    return Comparison(comparison.prompt, comparison.response_b, comparison.response_a,
                      comparison.principle)


def to_item_order(judgement: Judgement, swapped: bool) -> Judgement:
    """A judgement of the order shown, about the item's positions: A and B exchanged and
    P(A) = 1 − P(first shown) when the order was swapped. ``raw`` stays as received."""
    meta = {**judgement.meta, "swapped": swapped}
    if not swapped:
        return replace(judgement, meta=meta)
    preference = None if judgement.preference is None else 1.0 - judgement.preference
    return replace(judgement, verdict=FLIPPED[judgement.verdict], preference=preference,
                   meta=meta)


def order_preferences(judgements: Sequence[Judgement]) -> list[float] | None:
    """For a backend that reads both orders itself (local LM: ``p_in_order`` and
    ``p_swapped`` in ``meta``, each P(the response shown first is better)), the two
    figures averaged over the principles that gave them: ``[as given, swapped]``. None
    where no judgement has them."""
    pairs = [(j.meta["p_in_order"], j.meta["p_swapped"]) for j in judgements
             if "p_in_order" in j.meta and "p_swapped" in j.meta]
    if not pairs:
        return None
    return [sum(p for p, _ in pairs) / len(pairs), sum(q for _, q in pairs) / len(pairs)]
