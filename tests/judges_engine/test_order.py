"""The order a one-prompt judge is shown, and its answer read back to the item's positions."""

from __future__ import annotations

import hashlib

import pytest

from judges.engine.order import is_swapped, order_preferences, shown, to_item_order
from judges.engine.types import Comparison, Judgement, Principle

KIND = Principle("kind", "Which is kinder?")


def test_the_order_is_drawn_from_sha256_of_seed_item_and_principle():
    digest = hashlib.sha256(b"7:42:kind").digest()
    assert is_swapped(seed=7, item_id=42, principle="kind") == bool(digest[0] & 1)
    draws = [is_swapped(seed=0, item_id=i, principle="kind") for i in range(2000)]
    assert draws == [is_swapped(seed=0, item_id=i, principle="kind") for i in range(2000)]
    assert 900 < sum(draws) < 1100  # about half swapped
    # Another seed or principle draws another order for some items.
    assert draws != [is_swapped(seed=1, item_id=i, principle="kind") for i in range(2000)]
    assert draws != [is_swapped(seed=0, item_id=i, principle="kind+honest")
                     for i in range(2000)]


def test_a_swapped_comparison_shows_response_b_first():
    c = Comparison("Hi", "first", "second", KIND)
    assert shown(c, False) is c
    assert shown(c, True) == Comparison("Hi", "second", "first", KIND)


@pytest.mark.parametrize(("said", "preference", "swapped", "stored", "stored_p"), [
    ("A", 1.0, False, "A", 1.0),
    ("A", 1.0, True, "B", 0.0),
    ("B", 0.2, True, "A", 0.8),
    ("B", 0.2, False, "B", 0.2),
    ("tie", 0.5, True, "tie", 0.5),
    ("unparseable", None, True, "unparseable", None),
])
def test_the_answer_is_mapped_back_to_the_item_positions(said, preference, swapped, stored,
                                                           stored_p):
    judgement = Judgement(said, preference, raw=f"[[{said}]]", meta={"tokens": 3})
    back = to_item_order(judgement, swapped)
    assert (back.verdict, back.preference, back.raw) == (stored, stored_p, f"[[{said}]]")
    assert back.meta == {"tokens": 3, "swapped": swapped}


def test_both_order_preferences_are_averaged_over_principles():
    judgements = [Judgement("A", 0.6, "", meta={"p_in_order": 0.8, "p_swapped": 0.6}),
                  Judgement("A", 0.6, "", meta={"p_in_order": 0.6, "p_swapped": 0.2}),
                  Judgement("B", 0.0, "[[B]]")]  # a backend without them: left out
    assert order_preferences(judgements) == pytest.approx([0.7, 0.4])
    assert order_preferences([Judgement("A", 1.0, "[[A]]")]) is None
