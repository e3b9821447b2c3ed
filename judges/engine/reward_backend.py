"""A judge that is a reward model: the score difference of the two responses through a
sigmoid, the Bradley–Terry probability the model was trained to predict:

    P(A is better) = sigmoid((score(prompt, A) − score(prompt, B)) / temperature)

The scorer is any callable ``score(prompt, responses) -> list[float]``, so this module
knows nothing of Django or of where the model lives; :meth:`RewardModelBackend.from_checkpoint`
builds one from a reward model folder written by :func:`training.reward.save`.

A reward model has no notion of a principle: it scores responses the same way whatever
the question. The principle of each comparison is recorded in ``meta`` (so a run's
records say which principle was asked) but it does not change the score.

Swapping A and B gives exactly 1 − p, to the last bit (see :func:`preference`), and two
responses with equal scores (identical texts always score the same: each distinct text
is scored once per prompt) are a tie. A score that is not a finite number is recorded as
unparseable, never guessed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

from judges.engine.types import Comparison, Judgement
from judges.engine.verdicts import verdict_for

Scorer = Callable[[str, list[str]], Sequence[float]]


def preference(score_a: float, score_b: float, temperature: float = 1.0) -> float:
    """sigmoid((score_a − score_b) / temperature), computed on the side where it is ≥ 0.5
    and complemented for the other, so that ``preference(b, a) == 1 − preference(a, b)``
    exactly (a − b is exactly −(b − a), and 1 − p is exact for p in [0.5, 1])."""
    margin = (score_a - score_b) / temperature
    upper = 1.0 / (1.0 + math.exp(-abs(margin)))  # in [0.5, 1]
    return upper if margin >= 0 else 1.0 - upper


class RewardModelBackend:
    """The Backend protocol on a reward model's scores.

    ``scorer(prompt, responses)`` returns one score per response (higher is better), e.g.
    the ``score`` method of a :class:`training.reward.RewardScorer`. ``temperature`` (> 0)
    divides the score difference: above 1 it softens the preference, below 1 sharpens it.
    """

    def __init__(self, scorer: Scorer, *, temperature: float = 1.0) -> None:
        if not callable(scorer):
            raise TypeError("scorer must be a callable score(prompt, responses)")
        if not (math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature must be a positive number, not {temperature!r}")
        self.scorer = scorer
        self.temperature = float(temperature)

    @classmethod
    def from_checkpoint(cls, path: str | Path, *, device: str | None = None,
                        temperature: float = 1.0) -> RewardModelBackend:
        """A backend on the reward model saved in folder ``path`` (``training.reward.load``:
        the base encoder must be installed here; device None means cuda when available)."""
        from training.reward import load  # torch and transformers load only when asked

        return cls(load(path, device=device).score, temperature=temperature)

    # -- the Backend protocol -------------------------------------------------------------

    def judge(self, comparison: Comparison) -> Judgement:
        return self.judge_many([comparison])[0]

    def judge_many(self, comparisons: list[Comparison]) -> list[Judgement]:
        """One scorer call per distinct prompt, over that prompt's distinct responses."""
        wanted: dict[str, dict[str, None]] = {}  # prompt -> its responses, in first-seen order
        for c in comparisons:
            texts = wanted.setdefault(c.prompt, {})
            texts.setdefault(c.response_a)
            texts.setdefault(c.response_b)
        scores: dict[tuple[str, str], float] = {}
        for prompt, texts in wanted.items():
            responses = list(texts)
            got = list(self.scorer(prompt, responses))
            if len(got) != len(responses):
                raise ValueError(f"the scorer returned {len(got)} scores for "
                                 f"{len(responses)} responses")
            scores.update(((prompt, r), float(s)) for r, s in zip(responses, got, strict=True))
        return [self.judgement(c, scores[c.prompt, c.response_a],
                               scores[c.prompt, c.response_b]) for c in comparisons]

    def judgement(self, c: Comparison, score_a: float, score_b: float) -> Judgement:
        raw = json.dumps({"score_a": score_a, "score_b": score_b})
        meta = {"principle": c.principle.name, "principle_used": False,
                "score_a": score_a, "score_b": score_b, "temperature": self.temperature}
        if not (math.isfinite(score_a) and math.isfinite(score_b)):
            return Judgement("unparseable", None, raw,
                             "the reward model gave a score that is not a finite number", meta)
        p = preference(score_a, score_b, self.temperature)
        verdict = verdict_for(p)
        return Judgement(verdict, 0.5 if verdict == "tie" else p, raw, "", meta)
