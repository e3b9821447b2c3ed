"""DPO losses as TRL 1.16's ``DPOTrainer._compute_loss`` defines them, and the summed
response log-probability they are computed from.

With δ = (log π(y_c) − log π_ref(y_c)) − (log π(y_r) − log π_ref(y_r)) per pair:

- ``sigmoid`` (DPO, Rafailov et al. 2023): −log σ(βδ); with label smoothing ε it is cDPO,
  −(1 − ε) log σ(βδ) − ε log σ(−βδ) (equal to TRL's sigmoid when ε = 0);
- ``hinge`` (SLiC): relu(1 − βδ);
- ``ipo`` (Azar et al. 2023, eq. 17) with TRL's per-token normalisation: the two
  log-ratios are divided by their responses' token counts before the difference is taken,
  (δ_c / n_c − δ_r / n_r − 1 / (2β))²;
- ``robust`` (rDPO, Chowdhury et al. 2024): ((1 − ε)(−log σ(βδ)) + ε log σ(−βδ)) / (1 − 2ε).

Rewards are TRL's too: β·(log π − log π_ref), detached. No Django here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def sequence_logps(logits: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
    """Σ_t mask[b, t] · log softmax(logits[b, t])[labels[b, t]] -> [B].

    ``logits`` [B, T, V] are already aligned with ``labels`` [B, T] (``logits[:, t]`` is
    the distribution of ``labels[:, t]``); ``mask`` [B, T] is 1 on response tokens, 0 on
    prompt tokens and padding, whose logits and labels then play no part at all."""
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    picked = logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1) - logits.logsumexp(-1)
    return torch.where(mask.bool(), picked, torch.zeros_like(picked)).sum(-1)


def dpo_loss(
    policy_chosen_logps: Tensor,
    policy_rejected_logps: Tensor,
    ref_chosen_logps: Tensor,
    ref_rejected_logps: Tensor,
    *,
    beta: float,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
    chosen_lengths: Tensor | None = None,
    rejected_lengths: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """(losses [B], chosen_rewards [B], rejected_rewards [B]); ``ipo`` needs the lengths
    (response token counts, the end token included)."""
    chosen_logratios = policy_chosen_logps - ref_chosen_logps
    rejected_logratios = policy_rejected_logps - ref_rejected_logps
    logits = beta * (chosen_logratios - rejected_logratios)
    eps = label_smoothing
    if loss_type == "sigmoid":
        losses = -(1 - eps) * F.logsigmoid(logits) - eps * F.logsigmoid(-logits)
    elif loss_type == "hinge":
        losses = torch.relu(1 - logits)
    elif loss_type == "ipo":
        if chosen_lengths is None or rejected_lengths is None:
            raise ValueError("the ipo loss needs chosen_lengths and rejected_lengths")
        delta = chosen_logratios / chosen_lengths.clamp(min=1) - rejected_logratios / (
            rejected_lengths.clamp(min=1)
        )
        losses = (delta - 1 / (2 * beta)) ** 2
    elif loss_type == "robust":
        if not 0 <= eps < 0.5:
            raise ValueError("the robust loss needs 0 <= label_smoothing < 0.5")
        losses = (-(1 - eps) * F.logsigmoid(logits) + eps * F.logsigmoid(-logits)) / (1 - 2 * eps)
    else:
        raise ValueError(f"unknown loss_type {loss_type!r}")
    return losses, beta * chosen_logratios.detach(), beta * rejected_logratios.detach()
