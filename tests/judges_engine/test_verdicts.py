"""Reading verdicts strictly: one clear verdict or "unparseable" with the reason.

Lower-case tokens ([[a]]) are deliberately not verdicts: strict means upper case only, and
the reason says so.
"""

from __future__ import annotations

import pytest

from judges.engine.verdicts import parse_verdict, verdict_for


@pytest.mark.parametrize(("text", "verdict", "preference"), [
    ("Response A explains the risk. [[A]]", "A", 1.0),
    ("[[B]]", "B", 0.0),
    ("Both are fine.\n[[C]]", "tie", 0.5),
    ("I lean [[B]] at first... final verdict: [[B]]", "B", 0.0),  # a repeat is no conflict
    ('{"verdict": "A"}', "A", 1.0),
    ('  {"verdict": "tie", "reason": "equal"}\n', "tie", 0.5),
    ('{"verdict": "A", "confidence": 0.75}', "A", 0.75),
    ('{"verdict": "B", "confidence": 0.75}', "B", 0.25),
    ('{"verdict": "B", "confidence": 1}', "B", 0.0),
    ('{"verdict": "tie", "confidence": 0.9}', "tie", 0.5),
    ('Reasoning first.\n```json\n{"verdict": "B", "confidence": 0.6}\n```\nDone.', "B", 0.4),
    ('```json\n{"verdict": "A"}```', "A", 1.0),
    ('{"verdict": "B"} and [[A]]', "A", 1.0),  # a token is read before any JSON
])
def test_verdicts_that_are_read(text, verdict, preference):
    got_verdict, got_preference, error = parse_verdict(text)
    assert (got_verdict, error) == (verdict, "")
    assert got_preference == pytest.approx(preference, abs=1e-12)


@pytest.mark.parametrize(("text", "reason"), [
    ("", "empty answer"),
    ("   \n\t", "empty answer"),
    ("A is better [[A]] but on reflection [[B]]", "conflicting verdicts: [[A]], [[B]]"),
    ("[[C]] or maybe [[A]]", "conflicting verdicts: [[A]], [[C]]"),
    ("I think the first one, probably.", "no verdict found"),
    ("The answer is (A).", "no verdict found"),
    ("[[a]]", "lower-case [[a]] is not a verdict"),
    ("final: [[c]]", "lower-case [[c]] is not a verdict"),
    ("[[ A ]]", "no verdict found"),
    ("[[D]]", "no verdict found"),
    ('{"verdict": "A"', "invalid JSON"),
    ('{"verdict": "a"}', "\"verdict\" must be \"A\", \"B\" or \"tie\", not 'a'"),
    ('{"verdict": "C"}', "\"verdict\" must be \"A\", \"B\" or \"tie\", not 'C'"),
    ('{"winner": "A"}', "not None"),
    ('{"verdict": "A", "confidence": 1.5}', '"confidence" must be a number from 0 to 1'),
    ('{"verdict": "A", "confidence": "high"}', '"confidence" must be a number from 0 to 1'),
    ('{"verdict": "A", "confidence": true}', '"confidence" must be a number from 0 to 1'),
    ('{"verdict": "A", "confidence": NaN}', '"confidence" must be a number from 0 to 1'),
    ('{"verdict": "A", "confidence": 0.2}', "below 0.5"),
    ('```json\n["A"]\n```', "not an object"),
    ('```json\n{"verdict": "A"}\n```\n```json\n{"verdict": "B"}\n```', "more than one"),
    ('Here: {"verdict": "A"}', "no verdict found"),  # JSON inside prose is not an answer
])
def test_unparseable_answers_say_why(text, reason):
    verdict, preference, error = parse_verdict(text)
    assert (verdict, preference) == ("unparseable", None)
    assert reason in error


def test_verdict_for_a_soft_preference():
    assert [verdict_for(p) for p in (0.9, 0.5000011, 0.5000009, 0.5, 0.4999991, 0.1)] == [
        "A", "A", "tie", "tie", "tie", "B"]
