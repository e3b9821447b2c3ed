"""How good a reward model is, and on what: pairwise metrics and splits by item.

``pair_metrics`` turns rewards into accuracy, mean margin and calibration (ECE) over every
ordered pair of every comparison; ``evaluate`` scores comparisons with a model and adds
the human ceiling when agreement rates are known; ``split_by_item`` holds items out so
that no item straddles train and eval. No Django here.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Mapping, Sequence

import torch

from .embedding_cache import EmbeddingCache
from .model import Comparison, RewardScorer, TrainResult


def pair_metrics(
    rewards: Sequence[Sequence[float]], comparisons: Sequence[Comparison], *, bins: int = 10
) -> dict[str, float]:
    """Pairwise metrics over every ordered pair (different tiers) of every comparison.

    accuracy: share of pairs with r_w > r_l (an exact tie of rewards counts ½).
    mean_margin: mean of r_w − r_l.
    ece: expected calibration error of p = σ(r_w − r_l); each pair enters in both orders,
    (p, outcome 1) and (1 − p, outcome 0), over ``bins`` equal-width bins of p.
    """
    diffs: list[float] = []
    for rs, c in zip(rewards, comparisons, strict=True):
        t = c.tiers()
        for i in range(len(rs)):
            for j in range(len(rs)):
                if t[i] >= 0 and t[j] >= 0 and t[i] < t[j]:
                    diffs.append(float(rs[i]) - float(rs[j]))
    if not diffs:
        return {
            "accuracy": float("nan"),
            "mean_margin": float("nan"),
            "ece": float("nan"),
            "n_pairs": 0,
        }
    d = torch.tensor(diffs, dtype=torch.float64)
    acc = ((d > 0).double() + 0.5 * (d == 0).double()).mean()
    p = torch.sigmoid(d)
    probs = torch.cat([p, 1 - p])
    outcome = torch.cat([torch.ones_like(p), torch.zeros_like(p)])
    which = torch.clamp((probs * bins).long(), max=bins - 1)
    ece = torch.zeros((), dtype=torch.float64)
    for b in range(bins):
        sel = which == b
        if sel.any():
            ece += sel.double().mean() * (outcome[sel].mean() - probs[sel].mean()).abs()
    return {
        "accuracy": float(acc),
        "mean_margin": float(d.mean()),
        "ece": float(ece),
        "n_pairs": len(diffs),
    }


def pair_outcomes(
    rewards: Sequence[Sequence[float]], comparisons: Sequence[Comparison]
) -> list[float]:
    """1 (r_w > r_l), ½ (a tie of rewards) or 0 for every ordered pair of every comparison,
    in the order of ``pair_metrics``: what a paired test of two models compares."""
    out: list[float] = []
    for rs, c in zip(rewards, comparisons, strict=True):
        t = c.tiers()
        for i in range(len(rs)):
            for j in range(len(rs)):
                if t[i] >= 0 and t[j] >= 0 and t[i] < t[j]:
                    d = float(rs[i]) - float(rs[j])
                    out.append(1.0 if d > 0 else 0.5 if d == 0 else 0.0)
    return out


def score_comparisons(scorer: RewardScorer, comparisons: Sequence[Comparison]) -> list[list[float]]:
    prompts = [c.prompt for c in comparisons for _ in c.responses]
    responses = [r for c in comparisons for r in c.responses]
    flat = scorer.rewards(prompts, responses).tolist()
    out, row = [], 0
    for c in comparisons:
        out.append(flat[row : row + len(c.responses)])
        row += len(c.responses)
    return out


def evaluate(
    model: RewardScorer | TrainResult,
    comparisons: Sequence[Comparison],
    *,
    agreement: Mapping[Hashable, float] | None = None,
    cache: EmbeddingCache | None = None,
) -> dict[str, float]:
    """accuracy / mean_margin / ece / n_pairs (see ``pair_metrics``); with ``agreement``
    (item_id -> share of annotators agreeing with the label) also ``human_ceiling``, the
    mean agreement over the evaluated items: the accuracy an annotator reaches against
    the labels, which no model should be expected to beat by much."""
    scorer = model.scorer if isinstance(model, TrainResult) else model
    if cache is not None:
        scorer.cache = cache
    if not comparisons:
        return {
            "accuracy": float("nan"),
            "mean_margin": float("nan"),
            "ece": float("nan"),
            "n_pairs": 0,
        }
    metrics: dict[str, float] = pair_metrics(score_comparisons(scorer, comparisons), comparisons)
    if agreement is not None:
        rates = [float(agreement[c.item_id]) for c in comparisons if c.item_id in agreement]
        metrics["human_ceiling"] = sum(rates) / len(rates) if rates else float("nan")
    return metrics


def shuffled_items(comparisons: Sequence[Comparison], seed: int) -> list[Hashable]:
    items = list(dict.fromkeys(c.item_id for c in comparisons))  # first-seen order, unique
    random.Random(seed).shuffle(items)
    return items


def split_by_item(
    comparisons: Sequence[Comparison], eval_fraction: float = 0.1, seed: int = 0
) -> tuple[list[Comparison], list[Comparison]]:
    """(train, eval): every comparison of one item_id lands on the same side."""
    if eval_fraction <= 0:
        return list(comparisons), []
    items = shuffled_items(comparisons, seed)
    n_eval = max(1, round(len(items) * eval_fraction)) if len(items) > 1 else 0
    held = set(items[:n_eval])
    return [c for c in comparisons if c.item_id not in held], [
        c for c in comparisons if c.item_id in held
    ]
