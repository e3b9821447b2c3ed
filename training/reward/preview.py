"""Preview: what one label would teach the model ("watch it learn").

``preview_step`` scores a prompt's responses, takes ONE SGD step on a single ranking with a
deep copy of the scorer, and scores them again. The scorer that is served is never
touched, and nothing is saved. No Django here.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch

from .model import Comparison, RewardScorer
from .trainer import pack, ranking_loss


def preview_step(
    scorer: RewardScorer,
    prompt: str,
    responses: Sequence[str],
    ranking: list[list[int]],
    *,
    lr: float = 1e-3,
) -> tuple[list[float], list[float]]:
    """Scores before and after ONE SGD step on this single ranking, applied to a deep
    copy (the given scorer is never modified). Head mode trains the head only; finetune
    mode the head and the encoder (at ``lr * ft_lr / ft_head_lr``)."""
    before = scorer.score(prompt, responses)
    finetune = scorer.config.mode == "finetune"
    # share (do not copy) the cache, and in head mode the frozen encoder: neither changes
    memo: dict[int, Any] = {}
    if scorer.cache is not None:
        memo[id(scorer.cache)] = scorer.cache
    if not finetune:
        memo[id(scorer.encoder)] = scorer.encoder
    clone = copy.deepcopy(scorer, memo)
    comparison = Comparison(
        item_id="preview", prompt=prompt, responses=list(responses), ranking=ranking
    )
    tiers, weight, margin = pack([comparison], config=clone.config)
    params = [{"params": list(clone.head.parameters()), "lr": lr}]
    if finetune:
        params.append(
            {
                "params": list(clone.encoder.parameters()),
                "lr": lr * clone.config.ft_lr / clone.config.ft_head_lr,
            }
        )
    opt = torch.optim.SGD(params, lr=lr)
    clone.eval()  # no dropout: the step should be deterministic
    feats = clone.features([prompt] * len(responses), list(responses), grad=finetune)  # [K, F]
    device = clone.head_device
    rewards = clone.head(feats.to(device)).unsqueeze(0)  # [1, K]
    loss = ranking_loss(
        rewards=rewards,
        tiers=tiers.to(device),
        weight=weight.to(device),
        margin=margin.to(device),
        config=clone.config,
    )
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    after = clone.score(prompt, responses)
    return before, after
