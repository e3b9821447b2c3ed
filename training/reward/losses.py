"""Preference losses for reward models, written as plain torch functions.

Notation: r = scalar reward of a response. One *comparison* is one prompt with K >= 2
responses and a ranking in *tiers* (best tier first; items inside a tier are tied).

Batched layout used by the listwise losses:
    rewards: [B, K] float  -- padded with anything where tiers == -1
    tiers:   [B, K] long   -- 0 = best tier, 1 = next, ...; -1 = padding (no response)

Sources:
  * Bradley–Terry: Bradley & Terry (1952); as a reward-model loss Ouyang et al. (2022),
    "Training language models to follow instructions with human feedback", eq. (1):
        loss(r_w, r_l) = -log σ(r_w − r_l)
    with a margin m (Touvron et al. 2023, Llama 2, eq. (2)): -log σ(r_w − r_l − m).
  * All pairs of one prompt: Ouyang et al. (2022) eq. (1): the C(K,2) comparisons of one
    prompt are ONE batch element, loss = 1/C(K,2) · Σ_pairs -log σ(r_w − r_l)
    (here: mean over the element's ordered pairs, i.e. pairs from different tiers).
  * Plackett–Luce: Plackett (1975), Luce (1959):
        P(ranking) = Π_t exp(r_{π_t}) / Σ_{j ≥ t} exp(r_{π_j})
    Ties follow Breslow (1974): a tier S_t is chosen as a set from everything not yet
    placed, R_t = S_t ∪ S_{t+1} ∪ …:
        loss = Σ_{tiers t except the last} [ |S_t| · logsumexp_{j ∈ R_t} r_j − Σ_{i ∈ S_t} r_i ]
    The last tier is skipped: it beats nothing. With K = 2 and no tie this is exactly BT.
  * Reward centering: Eisenstein et al. (2023), "Helping or Herding? Reward Model
    Ensembles Mitigate but do not Eliminate Reward Hacking", auxiliary term
        λ · (Σ_k r_k / K)²   per prompt
    which pins the free additive constant of BT/PL rewards near zero.

Ties in the pairwise losses: by default a tie gives NO pair (it carries no order).
With ``tie_weight > 0`` each tied pair adds the soft-label term
    tie_weight · ½ [−log σ(r_i − r_j) − log σ(r_j − r_i)]
(binary cross-entropy towards probability ½), whose minimum is at r_i = r_j.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _weighted_mean(values: Tensor, weight: Tensor | None) -> Tensor:
    """values: [B]; weight: [B] or None -> scalar."""
    if weight is None:
        return values.mean()
    weight = weight.to(values)
    return (values * weight).sum() / weight.sum().clamp(min=1e-12)


def bradley_terry_loss(
    *,
    chosen: Tensor,
    rejected: Tensor,
    margin: Tensor | float | None = None,
    weight: Tensor | None = None,
) -> Tensor:
    """-log σ(r_w − r_l − margin), (weighted) mean over pairs.

    chosen, rejected: [B] rewards of the preferred / other response.
    margin: scalar or [B] (e.g. from annotator strength), default 0.
    weight: [B] per-pair weights, default 1.
    """
    diff = chosen - rejected  # [B]
    if margin is not None:
        diff = diff - torch.as_tensor(margin, dtype=diff.dtype, device=diff.device)
    return _weighted_mean(-F.logsigmoid(diff), weight)


def _pair_masks(tiers: Tensor) -> tuple[Tensor, Tensor]:
    """tiers [B, K] -> (better [B, K, K], tied [B, K, K]) boolean masks.

    better[b, i, j]: response i is in a strictly better tier than j (both real).
    tied[b, i, j]:   i < j (each unordered pair once), same tier, both real.
    """
    valid = tiers >= 0  # [B, K]
    both = valid.unsqueeze(2) & valid.unsqueeze(1)  # [B, K, K]
    ti, tj = tiers.unsqueeze(2), tiers.unsqueeze(1)  # [B, K, 1], [B, 1, K]
    better = both & (ti < tj)
    k = tiers.shape[1]
    upper = torch.triu(torch.ones(k, k, dtype=torch.bool, device=tiers.device), diagonal=1)
    tied = both & (ti == tj) & upper
    return better, tied


def all_pairs_loss(
    *,
    rewards: Tensor,
    tiers: Tensor,
    weight: Tensor | None = None,
    margin: Tensor | None = None,
    tie_weight: float = 0.0,
) -> Tensor:
    """InstructGPT loss: every ordered pair of one prompt, mean per prompt, then over prompts.

    rewards: [B, K]; tiers: [B, K] (0 best, -1 padding); weight: [B].
    margin: [B], subtracted from every ordered pair's r_w − r_l of that prompt (so for K = 2
    this is exactly ``bradley_terry_loss`` with that margin); tied pairs get no margin.
    Elements without any pair (everything tied, and tie_weight == 0) are left out.
    """
    better, tied = _pair_masks(tiers)  # [B, K, K] each
    diff = rewards.unsqueeze(2) - rewards.unsqueeze(1)  # [B, K, K]: r_i − r_j
    pair_loss = -F.logsigmoid(diff)  # [B, K, K]
    ordered_loss = (
        pair_loss if margin is None else -F.logsigmoid(diff - margin.to(diff).view(-1, 1, 1))
    )
    total = (ordered_loss * better).sum((1, 2))  # [B]
    count = better.sum((1, 2)).to(rewards.dtype)  # [B]
    if tie_weight > 0:
        tie_term = 0.5 * (pair_loss + pair_loss.transpose(1, 2))  # [B, K, K], symmetric
        total = total + tie_weight * (tie_term * tied).sum((1, 2))
        count = count + tie_weight * tied.sum((1, 2)).to(rewards.dtype)
    has_pairs = count > 0  # [B]
    if not bool(has_pairs.any()):
        return rewards.sum() * 0.0
    per_prompt = total[has_pairs] / count[has_pairs]  # [B']
    return _weighted_mean(per_prompt, None if weight is None else weight[has_pairs])


def plackett_luce_loss(
    *,
    rewards: Tensor,
    tiers: Tensor,
    weight: Tensor | None = None,
) -> Tensor:
    """Listwise Plackett–Luce negative log-likelihood with Breslow ties (see module doc).

    rewards: [B, K]; tiers: [B, K] (0 best, -1 padding); weight: [B]. Sum over tiers per
    prompt, (weighted) mean over prompts.
    """
    valid = tiers >= 0  # [B, K]
    neg_inf = torch.finfo(rewards.dtype).min
    last_tier = torch.where(valid, tiers, torch.zeros_like(tiers)).amax(1, keepdim=True)  # [B, 1]
    # one row per possible tier value t = 0 .. K-1
    k = tiers.shape[1]
    t = torch.arange(k, device=tiers.device).view(1, k, 1)  # [1, T, 1]
    in_tier = valid.unsqueeze(1) & (tiers.unsqueeze(1) == t)  # [B, T, K]: item in S_t
    at_risk = valid.unsqueeze(1) & (tiers.unsqueeze(1) >= t)  # [B, T, K]: item in R_t
    r = rewards.unsqueeze(1)  # [B, 1, K]
    lse = torch.logsumexp(torch.where(at_risk, r, torch.full_like(r, neg_inf)), dim=2)  # [B, T]
    size = in_tier.sum(2).to(rewards.dtype)  # [B, T] = |S_t|
    chosen_sum = (r * in_tier).sum(2)  # [B, T] = Σ_{i∈S_t} r_i
    counts = (size > 0) & (t.view(1, k) < last_tier)  # [B, T]: real tier, not the last one
    per_tier = torch.where(counts, size * lse - chosen_sum, torch.zeros_like(lse))  # [B, T]
    return _weighted_mean(per_tier.sum(1), weight)


def centering_loss(*, rewards: Tensor, tiers: Tensor | None = None, coef: float = 0.01) -> Tensor:
    """λ · mean over prompts of (mean reward of the prompt's responses)².

    rewards: [B, K] (or [B] for one response per prompt); tiers [B, K] marks padding (-1).
    """
    if rewards.ndim == 1:
        return coef * (rewards**2).mean()
    mask = torch.ones_like(rewards, dtype=torch.bool) if tiers is None else tiers >= 0  # [B, K]
    mean = (rewards * mask).sum(1) / mask.sum(1).clamp(min=1)  # [B]
    return coef * (mean**2).mean()


def tiers_from_ranking(ranking: list[list[int]], k: int) -> list[int]:
    """Ranking as tiers of positions (best first) -> tier index per position (-1 = unranked)."""
    out = [-1] * k
    for tier, positions in enumerate(ranking):
        for pos in positions:
            if not 0 <= pos < k:
                raise ValueError(f"position {pos} out of range for {k} responses")
            if out[pos] != -1:
                raise ValueError(f"position {pos} appears twice in the ranking")
            out[pos] = tier
    return out
