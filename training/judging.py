"""How a new reward model is judged against the active one, on pairs neither learned from.

The new model's own held-out items are fair to it, but the active model may have been
trained on some of them (the split changes as items arrive), and a model scored on its own
training items looks better than it is. So both models judge only the held-out items the
active model did not learn from, pair by pair, and :func:`training.significance.
paired_decision` compares them (paired sign test; on small projects, the model with more
labels unless it is significantly worse). Used by :mod:`training.runs` through
:func:`training.registry.decide`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import loader, scoring
from .models import ModelVersion
from .significance import Paired


def trained_items(version: ModelVersion, known: Sequence[int]) -> set[int]:
    """The items the version learned from. Versions published before the split recorded
    its training items count as trained on every known item but their own eval items (the
    careful guess: it leaves out pairs rather than judge a model on what it saw)."""
    split = version.eval_split or {}
    if "train_item_ids" in split:
        return {int(i) for i in split["train_item_ids"]}
    held = {int(i) for i in split.get("eval_items", [])}
    return {int(i) for i in known} - held


def judge(*, active: ModelVersion, scorer, eval_set: Sequence, all_items: Sequence[int],
          cache=None) -> tuple[Any, dict[str, Any]]:
    """(significance.Paired, how many items it covers) for the new model (``scorer``) and
    the active one on the ``eval_set`` comparisons the active model was not trained on."""
    reward = loader.reward()
    seen = trained_items(active, all_items)
    fair = [c for c in eval_set if int(c.item_id) not in seen]
    if not fair:
        return Paired(new=[], old=[]), {"items": 0}
    # The new model keeps its own cache setting (a fine-tuned one must not read frozen
    # features); the active one borrows the run's cache, as scoring.evaluate_version does.
    new = reward.pair_outcomes(reward.score_comparisons(scorer, fair), fair)
    old_scorer = scoring.scorer_for(active)
    with scoring.scorer_lock(active):
        kept = old_scorer.cache
        old_scorer.cache = cache
        try:
            old = reward.pair_outcomes(reward.score_comparisons(old_scorer, fair), fair)
        finally:
            old_scorer.cache = kept
    return Paired(new=new, old=old), {"items": len(fair)}
