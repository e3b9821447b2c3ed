"""Which principles of a constitution judge one comparison, and how their answers combine.

- ``"sample"``: one principle per comparison, as RL-CAI does. The draw is seeded by
  (seed, item id) through SHA-256, so a rerun, another process or another machine draws
  the same principle for the same item;
- ``"all"``: every principle judges, and the preferences are averaged.

:func:`combine` averages the principles that gave a verdict; the unparseable ones are
counted in ``meta`` and left out (an answer that could not be read is not a vote for a
tie). Only when no principle gave a verdict is the combination unparseable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace

from judges.engine.types import Backend, Comparison, Judgement, Principle
from judges.engine.verdicts import verdict_for

MODES = ("sample", "all")


def choose(principles: Sequence[Principle], *, mode: str, seed: int,
           item_id: int | str) -> list[Principle]:
    """The principles that judge item ``item_id``, in constitution order."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if not principles:
        raise ValueError("the constitution has no principles")
    if mode == "all":
        return list(principles)
    digest = hashlib.sha256(f"{seed}:{item_id}".encode()).digest()
    return [principles[int.from_bytes(digest[:8], "big") % len(principles)]]


def combine(judgements: Sequence[Judgement]) -> Judgement:
    """One judgement from several principles' judgements of the same comparison."""
    if not judgements:
        raise ValueError("nothing to combine")
    read = [j for j in judgements if j.preference is not None]
    meta = {"principles": len(judgements), "unparseable": len(judgements) - len(read)}
    if len(judgements) == 1:  # one principle: its own judgement, meta and all
        return replace(judgements[0], meta={**judgements[0].meta, **meta})
    raw = "\n".join(j.raw for j in judgements)
    if not read:
        errors = "; ".join(dict.fromkeys(j.error for j in judgements if j.error))
        return Judgement("unparseable", None, raw, errors or "no principle gave a verdict",
                         meta)
    preference = sum(j.preference for j in read) / len(read)
    verdict = verdict_for(preference)
    return Judgement(verdict, 0.5 if verdict == "tie" else preference, raw, "", meta)


def judge_item(backend: Backend, *, prompt: str, response_a: str, response_b: str,
               principles: Sequence[Principle], mode: str, seed: int,
               item_id: int | str) -> Judgement:
    """Judge one pair under the chosen principles (one backend call, batched)."""
    chosen = choose(principles, mode=mode, seed=seed, item_id=item_id)
    comparisons = [Comparison(prompt, response_a, response_b, p) for p in chosen]
    judgement = combine(backend.judge_many(comparisons))
    judgement.meta["principle_names"] = [p.name for p in chosen]
    return judgement
