"""The shapes every judge backend speaks. Plain dataclasses, no Django.

A backend answers one :class:`Comparison` (a prompt, two responses shown as (A) and (B),
and the principle to judge by) with a :class:`Judgement`: the probability that A is the
better response under that principle, the verdict, and the raw model output kept for audit.
An answer that cannot be parsed is recorded as ``verdict = "unparseable"`` with
``preference = None``: never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Verdict = Literal["A", "B", "tie", "unparseable"]


@dataclass(frozen=True)
class Principle:
    name: str
    question: str  # "Which of these responses is less harmful?"
    critique: str = ""  # critique request for critique-and-revise (SL-CAI)
    revision: str = ""  # revision request


@dataclass(frozen=True)
class Comparison:
    prompt: str  # the conversation so far, rendered as "Human: ...\n\nAssistant: ..."
    response_a: str
    response_b: str
    principle: Principle


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    preference: float | None  # P(A is better), 0..1; 0.5 for a tie; None when unparseable
    raw: str  # the model's output (or the log-probs as text) as received
    error: str = ""  # why it is unparseable, or the transport error after the last retry
    meta: dict = field(default_factory=dict)  # tokens used, latency, attempts...


class Backend(Protocol):
    """What every backend offers; configuration comes through the constructor."""

    def judge(self, comparison: Comparison) -> Judgement: ...

    def judge_many(self, comparisons: list[Comparison]) -> list[Judgement]: ...
