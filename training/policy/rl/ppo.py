"""PPO with a KL leash (Ziegler et al. 2019; Ouyang et al. 2022), as TRL's PPOTrainer
computes it, with the value head on the policy's own last hidden states.

Per token t of a completion: reward r_t = −β·KL_t, and the score is added at the last
token. Advantages come from generalised advantage estimation (Schulman et al. 2016):
    δ_t = r_t + γ·V_{t+1} − V_t,   A_t = δ_t + γλ·A_{t+1},   V and A = 0 after the end,
returns R_t = A_t + V_t; the advantages are then whitened over the completion tokens.
Losses, averaged over completion tokens, with ρ_t = π(y_t) / π_old(y_t):
    policy  max(−A_t·ρ_t, −A_t·clip(ρ_t, 1 ± ε)),
    value   ½·max((V − R)², (V_old + clip(V − V_old, ±cliprange_value) − R)²),
    total   policy + vf_coef·value.
No Django here.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .kl import masked_mean, whiten
from .rollout import token_logps
from .updates import select


class ValueHead(nn.Module):
    """V(s_t): a linear map of the hidden state that chose token t."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.linear = nn.Linear(hidden_size, 1)
        nn.init.normal_(self.linear.weight, std=1 / (hidden_size + 1))
        nn.init.zeros_(self.linear.bias)

    def forward(self, states: Tensor) -> Tensor:  # [N, T, D] -> [N, T]
        return self.linear(states.float()).squeeze(-1)


def gae(
    rewards: Tensor, values: Tensor, mask: Tensor, *, gamma: float, lam: float
) -> tuple[Tensor, Tensor]:
    """(advantages [N, T], returns [N, T]) of per-token rewards and values; columns where
    mask is 0 (padding after the end) count as reward 0, value 0 and get 0."""
    keep = mask.bool()
    rewards = rewards.where(keep, rewards.new_zeros(()))
    values = values.where(keep, values.new_zeros(()))
    steps = rewards.shape[1]
    last = torch.zeros_like(rewards[:, 0])
    reversed_advantages = []
    for t in reversed(range(steps)):
        next_values = values[:, t + 1] if t < steps - 1 else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_values - values[:, t]
        last = delta + gamma * lam * last
        reversed_advantages.append(last)
    advantages = torch.stack(reversed_advantages[::-1], dim=1).where(keep, rewards.new_zeros(()))
    return advantages, (advantages + values).where(keep, rewards.new_zeros(()))


def token_rewards(scores: Tensor, kl: Tensor, mask: Tensor, beta: float) -> tuple[Tensor, Tensor]:
    """(rewards [N, T], non-score rewards [N, T]): −β·KL_t on every completion token, and
    each completion's score added on its last token."""
    non_score = (-beta * kl).where(mask.bool(), kl.new_zeros(()))
    rewards = non_score.clone()
    last = (mask.sum(-1) - 1).clamp(min=0).long()
    rewards[torch.arange(len(scores), device=scores.device), last] += scores
    return rewards, non_score


def ppo_loss_fn(model, head: ValueHead, batch, old: dict[str, Tensor], config):
    """The loss of a minibatch of rows (for :func:`.updates.optimise`); ``old`` holds the
    rollout's "logps", "values", "advantages" (whitened) and "returns", each [N, T]."""
    eps, clip_v = config.clip_eps, config.cliprange_value

    def loss_fn(rows: Tensor):
        sub = select(batch, rows)
        mask = sub.response_mask
        logps, entropy, states = token_logps(
            model, sub, temperature=config.temperature, hidden=True
        )
        old_logps, old_values = old["logps"][rows], old["values"][rows]
        advantages, returns = old["advantages"][rows], old["returns"][rows]
        values = head(states)
        values_clipped = old_values + (values - old_values).clamp(-clip_v, clip_v)
        vf_unclipped, vf_clipped = (values - returns) ** 2, (values_clipped - returns) ** 2
        value_loss = 0.5 * masked_mean(torch.max(vf_unclipped, vf_clipped), mask)
        log_ratio = logps - old_logps
        ratio = log_ratio.exp()
        pg_unclipped = -advantages * ratio
        pg_clipped = -advantages * ratio.clamp(1 - eps, 1 + eps)
        policy_loss = masked_mean(torch.max(pg_unclipped, pg_clipped), mask)
        loss = policy_loss + config.vf_coef * value_loss
        stats = {
            "policy/approxkl_avg": float(0.5 * masked_mean(log_ratio.detach() ** 2, mask)),
            "policy/clipfrac_avg": float(masked_mean((pg_clipped > pg_unclipped).float(), mask)),
            "loss/policy_avg": float(policy_loss.detach()),
            "loss/value_avg": float(value_loss.detach()),
            "val/clipfrac_avg": float(masked_mean((vf_clipped > vf_unclipped).float(), mask)),
            "policy/entropy_avg": float(masked_mean(entropy.detach(), mask)),
            "val/ratio": float(masked_mean(ratio.detach(), mask)),
        }
        return loss, stats

    return loss_fn


def ppo_targets(
    scores: Tensor, kl: Tensor, values: Tensor, mask: Tensor, config, beta: float
) -> tuple[dict[str, Tensor], dict[str, float]]:
    """The rollout's advantages and returns, and TRL's objective/* metrics."""
    rewards, non_score = token_rewards(scores, kl, mask, beta)
    advantages, returns = gae(rewards, values, mask, gamma=config.gamma, lam=config.lam)
    advantages = whiten(advantages, mask).where(mask.bool(), advantages.new_zeros(()))
    non_score_total = float(non_score.sum(-1).mean())
    metrics = {
        "objective/kl": float(kl.where(mask.bool(), kl.new_zeros(())).sum(-1).mean()),
        "objective/non_score_reward": non_score_total,
        "objective/rlhf_reward": non_score_total + float(scores.mean()),
        "objective/scores": float(scores.mean()),
    }
    return {"advantages": advantages, "returns": returns}, metrics
