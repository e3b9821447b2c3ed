"""Choosing principles per comparison, reproducibly, and combining their judgements."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from judges.engine.sampling import choose, combine
from judges.engine.types import Judgement, Principle

CONSTITUTION = [Principle("a", "Which is less harmful?"), Principle("b", "Which is more honest?"),
                Principle("c", "Which is more helpful?")]


def drawn(seed: int, items) -> list[str]:
    return [choose(CONSTITUTION, mode="sample", seed=seed, item_id=i)[0].name for i in items]


def test_sample_draws_one_principle_the_same_on_every_run():
    # Fixed here so that a change to the draw (which would silently relabel a rerun) fails.
    assert drawn(0, range(1, 13)) == ["b", "b", "c", "b", "b", "a", "b", "c", "c", "c", "c", "a"]
    assert drawn(1, range(1, 13)) == ["b", "b", "a", "c", "c", "a", "a", "c", "a", "b", "a", "c"]
    assert drawn(0, ["item-1"]) == drawn(0, ["item-1"])


def test_the_draw_does_not_depend_on_the_process():
    code = ("from judges.engine.sampling import choose; from judges.engine.types import Principle;"
            "ps = [Principle(n, 'q') for n in 'abc'];"
            "print(''.join(choose(ps, mode='sample', seed=0, item_id=i)[0].name "
            "for i in range(1, 13)))")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                         env={"PYTHONHASHSEED": "123", "PYTHONPATH": str(root)}, check=True)
    assert out.stdout.strip() == "".join(drawn(0, range(1, 13)))


def test_sample_spreads_over_the_constitution():
    counts = Counter(drawn(7, range(3000)))
    assert set(counts) == {"a", "b", "c"}
    assert all(900 < n < 1100 for n in counts.values())


def test_all_takes_every_principle_in_order():
    assert choose(CONSTITUTION, mode="all", seed=0, item_id=5) == CONSTITUTION


def test_bad_choices_are_refused():
    with pytest.raises(ValueError, match="mode must be one of"):
        choose(CONSTITUTION, mode="some", seed=0, item_id=1)
    with pytest.raises(ValueError, match="no principles"):
        choose([], mode="all", seed=0, item_id=1)
    with pytest.raises(ValueError, match="nothing to combine"):
        combine([])


def judged(verdict, preference, error=""):
    return Judgement(verdict, preference, f"raw {verdict}", error, {"latency_s": 0.1})


def test_combine_averages_the_principles_that_gave_a_verdict():
    both = combine([judged("A", 1.0), judged("B", 0.0), judged("A", 0.8)])
    assert (both.verdict, both.preference, both.error) == ("A", pytest.approx(0.6), "")
    assert both.meta == {"principles": 3, "unparseable": 0}
    assert both.raw == "raw A\nraw B\nraw A"
    tie = combine([judged("A", 1.0), judged("B", 0.0)])
    assert (tie.verdict, tie.preference) == ("tie", 0.5)
    skipping = combine([judged("B", 0.2), judged("unparseable", None, "no verdict found")])
    assert (skipping.verdict, skipping.preference) == ("B", 0.2)
    assert skipping.meta == {"principles": 2, "unparseable": 1}


def test_combine_is_unparseable_only_when_nothing_was_read():
    none = combine([judged("unparseable", None, "empty answer"),
                    judged("unparseable", None, "empty answer"),
                    judged("unparseable", None, "conflicting verdicts: [[A]], [[B]]")])
    assert (none.verdict, none.preference) == ("unparseable", None)
    assert none.error == "empty answer; conflicting verdicts: [[A]], [[B]]"


def test_one_principle_keeps_its_own_judgement():
    one = combine([judged("B", 0.3)])
    assert (one.verdict, one.preference, one.raw) == ("B", 0.3, "raw B")
    assert one.meta == {"latency_s": 0.1, "principles": 1, "unparseable": 0}
