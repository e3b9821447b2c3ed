"""``evaluate``: TRL's reward metrics on held-out pairs, and a sampled KL to the reference.

For each pair the implicit rewards β·(log π − log π_ref) of both responses give
``rewards/chosen``, ``rewards/rejected``, ``rewards/margins`` and ``rewards/accuracies``
(the share of pairs whose chosen reward is strictly higher, as TRL counts it), plus the
policy's mean summed log-probs ``logps/chosen`` and ``logps/rejected``, and the mean
``loss`` of the policy's own loss type. ``kl`` is the Monte-Carlo estimate of
KL(π ‖ π_ref) on up to ``kl_prompts`` distinct prompts: y ~ π (temperature 1, ``kl_tokens``
tokens at most, seeds seed, seed + 1, …) scored as Σ_t log π(y_t) − log π_ref(y_t).
No Django here.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .data import PreferencePair
from .losses import dpo_loss
from .policy import Policy
from .trainer import encode


def evaluate(
    policy: Policy,
    pairs: Sequence[PreferencePair],
    *,
    beta: float | None = None,
    kl_prompts: int = 16,
    kl_tokens: int = 32,
    seed: int = 0,
) -> dict:
    if not pairs:
        raise ValueError("no preference pairs to evaluate on")
    beta = policy.config.beta if beta is None else beta
    data = encode(pairs, policy.encoder)
    chosen, rejected = policy.pair_logps_ids(
        data.prompts, data.chosen, data.rejected, reference=False
    )
    ref_chosen, ref_rejected = policy.pair_logps_ids(
        data.prompts, data.chosen, data.rejected, reference=True
    )
    losses, chosen_rewards, rejected_rewards = dpo_loss(
        chosen,
        rejected,
        ref_chosen,
        ref_rejected,
        beta=beta,
        loss_type=policy.config.loss_type,
        label_smoothing=policy.config.label_smoothing,
        chosen_lengths=data_lengths(data.chosen),
        rejected_lengths=data_lengths(data.rejected),
    )
    return {
        "rewards/chosen": float(chosen_rewards.mean()),
        "rewards/rejected": float(rejected_rewards.mean()),
        "rewards/accuracies": float((chosen_rewards > rejected_rewards).float().mean()),
        "rewards/margins": float((chosen_rewards - rejected_rewards).mean()),
        "logps/chosen": float(chosen.mean()),
        "logps/rejected": float(rejected.mean()),
        "loss": float(losses.mean()),
        "kl": sampled_kl(policy, pairs, prompts=kl_prompts, tokens=kl_tokens, seed=seed),
        "n_pairs": len(pairs),
    }


def data_lengths(responses: list[list[int]]) -> torch.Tensor:
    return torch.tensor([len(r) for r in responses], dtype=torch.float32)


def sampled_kl(
    policy: Policy, pairs: Sequence[PreferencePair], *, prompts: int, tokens: int, seed: int
) -> float:
    distinct = list(dict.fromkeys(p.prompt for p in pairs))[:prompts]
    if not distinct or tokens < 1:
        return 0.0
    total = 0.0
    for i, prompt in enumerate(distinct):
        prompt_ids = policy.encoder.prompt(prompt)
        sample = policy.sample_ids(
            prompt_ids,
            max_new_tokens=tokens,
            temperature=1.0,
            top_p=1.0,
            seed=seed + i,
            reference=False,
        )
        own = policy.logps_ids([prompt_ids], [sample], reference=False)
        ref = policy.logps_ids([prompt_ids], [sample], reference=True)
        total += float(own[0] - ref[0])
    return total / len(distinct)
