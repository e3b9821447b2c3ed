"""REINFORCE Leave-One-Out (Ahmadian et al. 2024) with a clipped ratio, as TRL 1.16's
``RLOOTrainer`` computes it.

G completions of each prompt are scored; each one's reward is its score minus β times its
summed KL to the reference. The baseline of completion i is the mean reward of the other
G − 1 completions of its prompt, b_i = (Σ_j r_j − r_i) / (G − 1), and its advantage
r_i − b_i is one number for the whole sequence. The loss is PPO's clipped surrogate on
the sequence ratio ρ = exp(log π(y) − log π_old(y)):
    −min(ρ·A, clip(ρ, 1 − ε, 1 + ε)·A), averaged over the completions.
No Django here.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .kl import masked_mean
from .rollout import token_logps
from .updates import select


def rloo_advantages(rewards: Tensor, group_size: int) -> Tensor:
    """[N] rewards, grouped by prompt in runs of ``group_size`` -> [N] r_i − b_i."""
    if group_size < 2:
        raise ValueError("a leave-one-out baseline needs group_size >= 2")
    grouped = rewards.view(-1, group_size)
    baseline = (grouped.sum(1, keepdim=True) - grouped) / (group_size - 1)
    return (grouped - baseline).reshape(-1)


def clipped_sequence_loss(
    logps: Tensor, old_logps: Tensor, advantages: Tensor, clip_eps: float
) -> tuple[Tensor, dict[str, float]]:
    """(mean clipped surrogate loss, TRL's clip ratios) of [N] summed log-probs."""
    ratio = torch.exp(logps - old_logps)
    clipped = ratio.clamp(1 - clip_eps, 1 + clip_eps)
    loss = -torch.min(ratio * advantages, clipped * advantages).mean()
    low = (ratio < 1 - clip_eps) & (advantages < 0)
    high = (ratio > 1 + clip_eps) & (advantages > 0)
    return loss, {
        "clip_ratio/low_mean": float(low.float().mean()),
        "clip_ratio/high_mean": float(high.float().mean()),
        "clip_ratio/region_mean": float((low | high).float().mean()),
    }


def rloo_loss_fn(model, batch, old_logps: Tensor, advantages: Tensor, config):
    """The loss of a minibatch of rows (for :func:`.updates.optimise`)."""

    def loss_fn(rows: Tensor):
        sub = select(batch, rows)
        logps, entropy, _ = token_logps(model, sub, temperature=config.temperature)
        loss, stats = clipped_sequence_loss(
            logps.sum(-1), old_logps[rows], advantages[rows], config.clip_eps
        )
        stats["entropy"] = float(masked_mean(entropy.detach(), sub.response_mask))
        stats["loss"] = float(loss.detach())
        return loss, stats

    return loss_fn
