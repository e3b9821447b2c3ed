"""What DPO learns from: ``PreferencePair`` (one prompt, a chosen and a rejected response)
and ``split_by_item``, which holds whole items out so that no item straddles train and
eval. No torch or Django here."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class PreferencePair:
    """``chosen`` was preferred over ``rejected`` as an answer to ``prompt``.

    ``prompt`` is flat text (a conversation arrives flattened, ``"User: ...\\n\\nAssistant:
    ...\\n\\nUser: ..."``); ``weight`` (e.g. the annotators' agreement) multiplies the pair's
    loss, and the batch loss is the weighted mean."""

    item_id: int | str
    prompt: str
    chosen: str
    rejected: str
    weight: float = 1.0


def split_by_item(
    pairs: Sequence[PreferencePair], eval_fraction: float = 0.1, seed: int = 0
) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """(train, eval), deterministic in ``seed``: every pair of one item lands on the same
    side, and eval holds at least one item whenever there are two or more items."""
    if eval_fraction <= 0:
        return list(pairs), []
    items = list(dict.fromkeys(p.item_id for p in pairs))  # first-seen order, unique
    random.Random(seed).shuffle(items)
    n_eval = max(1, round(len(items) * eval_fraction)) if len(items) > 1 else 0
    n_eval = min(n_eval, len(items) - 1) if len(items) > 1 else 0
    held = set(items[:n_eval])
    return [p for p in pairs if p.item_id not in held], [p for p in pairs if p.item_id in held]
