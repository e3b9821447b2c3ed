"""Per-token KL estimators, masked reductions, whitening, and the KL coefficient.

With logp = log π(y_t), logp_ref = log π_ref(y_t) of a token sampled from π:

- ``kl_k1`` = logp − logp_ref: unbiased, can be negative per token;
- ``kl_k3`` = (r − 1) − log r, r = π_ref / π (Schulman, "Approximating KL divergence",
  2020): unbiased, never negative, lower variance.

A completion's KL is the masked sum of its tokens' estimates. ``AdaptiveKLController`` is
Ziegler et al. (2019) as TRL writes it: β is multiplied by 1 + clip(KL / target − 1, ±0.2)·
n_steps / horizon after every batch. ``whiten`` is TRL's ``masked_whiten`` (unbiased
variance). No Django here.
"""

from __future__ import annotations

from torch import Tensor


def kl_k1(logp: Tensor, logp_ref: Tensor) -> Tensor:
    return logp - logp_ref


def kl_k3(logp: Tensor, logp_ref: Tensor) -> Tensor:
    log_r = logp_ref - logp
    return log_r.expm1() - log_r


def kl_per_token(logp: Tensor, logp_ref: Tensor, estimator: str) -> Tensor:
    if estimator == "k1":
        return kl_k1(logp, logp_ref)
    if estimator == "k3":
        return kl_k3(logp, logp_ref)
    raise ValueError(f"unknown KL estimator {estimator!r}")


def masked_sum(values: Tensor, mask: Tensor, dim: int = -1) -> Tensor:
    """Σ over ``dim`` of the entries where mask is 1 (the others may be anything, even inf)."""
    return values.where(mask.bool(), values.new_zeros(())).sum(dim)


def masked_mean(values: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    if dim is None:
        return masked_sum(values.flatten(), mask.flatten()) / mask.sum().clamp(min=1)
    return masked_sum(values, mask, dim) / mask.sum(dim).clamp(min=1)


def masked_var(values: Tensor, mask: Tensor, unbiased: bool = True) -> Tensor:
    mean = masked_mean(values, mask)
    variance = masked_mean((values - mean) ** 2, mask)
    n = mask.sum()
    if unbiased and n > 1:
        variance = variance * n / (n - 1)
    return variance


def whiten(values: Tensor, mask: Tensor | None = None, shift_mean: bool = True) -> Tensor:
    """(x − mean) / sqrt(var + 1e-8) over the masked entries (all entries when mask is None);
    ``shift_mean=False`` adds the mean back (TRL's choice for rewards)."""
    if mask is None:
        mask = values.new_ones(values.shape)
    mean, variance = masked_mean(values, mask), masked_var(values, mask)
    out = (values - mean) * (variance + 1e-8).rsqrt()
    return out if shift_mean else out + mean


class FixedKLController:
    def __init__(self, value: float) -> None:
        self.value = value

    def update(self, current: float, n_steps: int) -> None:
        pass


class AdaptiveKLController:
    """β ← β·(1 + clip(current / target − 1, −0.2, 0.2)·n_steps / horizon)."""

    def __init__(self, value: float, target: float, horizon: int) -> None:
        self.value, self.target, self.horizon = value, target, horizon

    def update(self, current: float, n_steps: int) -> None:
        error = min(0.2, max(-0.2, current / self.target - 1))
        self.value *= 1 + error * n_steps / self.horizon


def kl_controller(beta: float, target: float | None, horizon: int):
    return (
        FixedKLController(beta) if target is None else AdaptiveKLController(beta, target, horizon)
    )
